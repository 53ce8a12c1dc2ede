"""Accounts under attack: guessing passwords, signing up where sign-up is closed, and API tokens that are
kept hashed, shown once, named, expiring and revocable. Through the real forms and API (Django's test client,
and once the real web process)."""
from __future__ import annotations

import hashlib
import importlib
import re
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone

from tests.hostile.webprocess import PASSWORD

pytestmark = pytest.mark.django_db
WRONG = "not-the-password-1"


@pytest.fixture
def people(django_user_model, settings):
    # A fast hasher: a wrong password costs as much to check as a right one, and these tests send dozens.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return {name: django_user_model.objects.create_user(username=name, password=PASSWORD) for name in ("alice", "bob")}


def _sign_in(username, password, address):
    client = Client(REMOTE_ADDR=address)
    return client, client.post("/signin/", {"username": username, "password": password})


def _age_failures(settings):
    """Move every recorded failure back by one window: what waiting it out does."""
    from webapp.accounts.models import SigninFailure

    SigninFailure.objects.update(at=F("at") - timedelta(seconds=settings.SIGNIN_WINDOW_SECONDS))


def test_wrong_passwords_pause_sign_in_for_the_account_and_the_address_until_the_window_passes(people, settings):
    assert (settings.SIGNIN_MAX_FAILURES, settings.SIGNIN_WINDOW_SECONDS) == (10, 900)
    for _ in range(10):  # mallory, from one address, guesses alice's password
        _, page = _sign_in("alice", WRONG, "10.0.0.66")
        assert page.status_code == 200 and "correct username and password" in page.content.decode()

    # Now the right password fails too, from anywhere, and the page says why in plain words.
    client, page = _sign_in("alice", PASSWORD, "10.0.0.1")
    text = page.content.decode()
    assert page.status_code == 200 and "Sign-in is paused after 10 wrong passwords" in text and "15 minutes" in text
    assert client.get("/").status_code == 302  # not signed in
    # The guessing address is paused for every account; bob elsewhere is not.
    assert "Sign-in is paused" in _sign_in("bob", PASSWORD, "10.0.0.66")[1].content.decode()
    assert _sign_in("bob", PASSWORD, "10.0.0.2")[1].status_code == 302
    # The API's token route is paused the same way (429, JSON), and so is the admin's sign-in.
    answer = Client(REMOTE_ADDR="10.0.0.1").post("/api/auth/token/", {"username": "alice", "password": PASSWORD})
    assert answer.status_code == 429 and "Sign-in is paused" in answer.json()["error"]
    admin = Client(REMOTE_ADDR="10.0.0.1").post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert admin.status_code == 200 and "sessionid" not in admin.cookies

    _age_failures(settings)
    assert _sign_in("alice", PASSWORD, "10.0.0.1")[1].status_code == 302


def test_failures_on_many_usernames_from_one_address_pause_that_address(people):
    for number in range(10):
        _sign_in(f"nobody-{number}", WRONG, "10.0.0.77")
    assert "Sign-in is paused" in _sign_in("alice", PASSWORD, "10.0.0.77")[1].content.decode()
    assert _sign_in("alice", PASSWORD, "10.0.0.78")[1].status_code == 302  # the account itself is not paused


def test_guessing_through_the_token_route_counts_too(people):
    for _ in range(10):
        answer = Client().post("/api/auth/token/", {"username": "bob", "password": WRONG})
        assert answer.status_code == 400 and answer.json()["error"] == "wrong username or password"
    assert "Sign-in is paused" in _sign_in("bob", PASSWORD, "10.0.0.3")[1].content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_real_web_process_pauses_sign_in_after_wrong_passwords(web):
    browser = requests.Session()
    for _ in range(10):
        page = browser.get(f"{web.url}/signin/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = browser.post(f"{web.url}/signin/", timeout=30, allow_redirects=False,
                              data={"username": "alice", "password": WRONG, "csrfmiddlewaretoken": token})
        assert answer.status_code == 200
    for username in ("alice", "mallory"):  # the account, and every account from this address
        with pytest.raises(AssertionError, match=f"sign-in as {username} failed: 200"):
            web.session(username)
    answer = requests.post(f"{web.url}/api/auth/token/", data={"username": "alice", "password": PASSWORD}, timeout=30)
    assert answer.status_code == 429 and "Sign-in is paused" in answer.json()["error"]


def test_closed_sign_up_says_staff_make_accounts_and_staff_can(django_user_model, settings):
    settings.SIGNUP_OPEN = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    staff = django_user_model.objects.create_user(username="root", password=PASSWORD, is_staff=True)
    django_user_model.objects.create_user(username="alice", password=PASSWORD)
    visitor = Client()
    page = visitor.get("/signup/").content.decode()
    assert "Sign-up is closed" in page and "accounts are made by staff" in page and "<form" not in page
    refused = visitor.post("/signup/", {"username": "eve", "password1": "a-long-secret-9", "password2": "a-long-secret-9"})
    assert refused.status_code == 403 and not django_user_model.objects.filter(username="eve").exists()
    assert 'href="/signup/"' not in visitor.get("/signin/").content.decode()

    alice = Client()
    alice.force_login(django_user_model.objects.get(username="alice"))
    assert 'id="new-account"' not in alice.get("/account/").content.decode()
    assert alice.post("/account/users/", {"username": "eve", "password1": "a-long-secret-9",
                                          "password2": "a-long-secret-9"}).status_code == 403
    assert not django_user_model.objects.filter(username="eve").exists()

    admin = Client()
    admin.force_login(staff)
    assert 'id="new-account"' in admin.get("/account/").content.decode()
    made = admin.post("/account/users/", {"username": "carol", "password1": "a-long-secret-9",
                                          "password2": "a-long-secret-9"}, follow=True)
    assert "Account “carol” made" in made.content.decode()
    carol = django_user_model.objects.get(username="carol")
    assert not carol.is_staff and _sign_in("carol", "a-long-secret-9", "10.0.0.9")[1].status_code == 302


def test_tokens_are_kept_hashed_shown_once_named_listed_expiring_and_revocable(people):
    from webapp.accounts.models import ApiKey

    browser = Client()
    browser.force_login(people["alice"])
    made = browser.post("/account/token/", {"name": "laptop", "expires_in": "30"}).content.decode()
    secret = re.search(r'<pre id="new-api-token">([^<]+)</pre>', made).group(1)
    second = re.search(r'<pre id="new-api-token">([^<]+)</pre>',
                       browser.post("/account/token/", {"name": "nightly job"}).content.decode()).group(1)
    # Stored as sha256 only: the secret is in no column of any row.
    laptop = ApiKey.objects.get(name="laptop")
    assert laptop.digest == hashlib.sha256(secret.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        assert not [row for row in cursor.fetchall() if any(secret in str(value) for value in row)]
    assert timedelta(days=29) < laptop.expires - timezone.now() <= timedelta(days=30)

    page = browser.get("/account/").content.decode()  # listed by name and dates, the secret never again
    assert "laptop" in page and "nightly job" in page and secret not in page and second not in page
    api = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/datasets/").status_code == 200
    listed = api.get("/api/tokens/").json()
    assert {key["name"] for key in listed} == {"laptop", "nightly job"}
    assert all(set(key) == {"id", "name", "created", "last_used", "expires"} for key in listed)
    assert next(key for key in listed if key["name"] == "laptop")["last_used"] is not None

    # An expired token and a revoked one are refused; the other keeps working.
    ApiKey.objects.filter(id=laptop.id).update(expires=timezone.now() - timedelta(seconds=1))
    refused = api.get("/api/datasets/")
    assert refused.status_code == 401 and "not valid" in refused.json()["error"]
    nightly = ApiKey.objects.get(name="nightly job")
    browser.post(f"/account/token/{nightly.id}/revoke/")
    assert Client(HTTP_AUTHORIZATION=f"Token {second}").get("/api/datasets/").status_code == 401
    assert not ApiKey.objects.filter(id=nightly.id).exists()


def test_the_token_api_makes_lists_and_revokes_only_the_callers_tokens(people):
    made = Client().post("/api/auth/token/", {"username": "alice", "password": PASSWORD, "name": "script"})
    assert made.status_code == 200 and made.json()["token"].startswith("ics_") and made.json()["name"] == "script"
    alice = Client(HTTP_AUTHORIZATION=f"Token {made.json()['token']}")
    expires = (timezone.now() + timedelta(days=7)).isoformat()
    another = alice.post("/api/tokens/", {"name": "ci", "expires": expires}, content_type="application/json")
    assert another.status_code == 201 and another.json()["expires"] is not None
    past = alice.post("/api/tokens/", {"name": "old", "expires": "2001-01-01T00:00:00Z"}, content_type="application/json")
    assert past.status_code == 400 and past.json()["fields"]["expires"] == ["the expiry must be in the future"]
    assert "token" not in alice.get("/api/tokens/").json()[0]

    bob = Client(HTTP_AUTHORIZATION=f"Token {Client().post('/api/auth/token/', {'username': 'bob', 'password': PASSWORD}).json()['token']}")
    assert bob.delete(f"/api/tokens/{another.json()['id']}/").status_code == 404  # not his
    assert alice.delete(f"/api/tokens/{another.json()['id']}/").status_code == 204
    assert Client(HTTP_AUTHORIZATION=f"Token {another.json()['token']}").get("/api/tokens/").status_code == 401


def test_user_for_api_key_names_the_active_owner_of_an_unexpired_key_only(people):
    from webapp.accounts.services import api_key_create, user_for_api_key

    _, secret = api_key_create(user=people["alice"], name="x")
    assert user_for_api_key(secret) == people["alice"]
    assert user_for_api_key(secret + "x") is None and user_for_api_key("") is None and user_for_api_key("a" * 10_000) is None
    people["alice"].is_active = False
    people["alice"].save()
    assert user_for_api_key(secret) is None


@pytest.mark.django_db(transaction=True)  # SQLite's schema editor cannot run inside the test's transaction
def test_plaintext_tokens_of_drf_authtoken_are_hashed_and_keep_working(people):
    """What the migration does on an installation that had DRF's authtoken table."""
    from django.apps import apps

    from webapp.accounts.services import user_for_api_key

    migration = importlib.import_module("webapp.accounts.migrations.0002_hash_plaintext_tokens")
    old_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp NOT NULL, "
                       "user_id integer NOT NULL)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)",
                       [old_key, "2024-05-01 12:00:00", people["bob"].id])
    with connection.schema_editor() as editor:
        migration.hash_plaintext_tokens(apps, editor)
    assert user_for_api_key(old_key) == people["bob"]
    from webapp.accounts.models import ApiKey

    assert ApiKey.objects.get(user=people["bob"]).created.year == 2024
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0  # no plaintext left
        cursor.execute("DROP TABLE authtoken_token")
