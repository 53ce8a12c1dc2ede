"""AWS-style access keys: made, listed and revoked by their owner on the account page and through the API,
the secret shown once and kept only encrypted."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.support.browser import shot, sign_in

pytestmark = pytest.mark.django_db
KEY_ID = re.compile(r"^AKIA[A-Z2-7]{16}$")
SECRET = re.compile(r"^[A-Za-z0-9+/]{40}$")


def test_the_api_makes_lists_and_revokes_access_keys_for_their_owner_only(api, bob_api, alice):
    from webapp.accounts.models import AccessKey

    made = api.post("/api/access-keys/", {"name": "notebook"}, format="json")
    assert made.status_code == 201, made.json()
    key = made.json()
    assert KEY_ID.match(key["access_key_id"]) and SECRET.match(key["secret_access_key"]), key
    assert key["environment"] == {"AWS_ACCESS_KEY_ID": key["access_key_id"],
                                  "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
                                  "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://testserver"}
    stored = AccessKey.objects.get(id=key["id"])
    assert stored.user == alice and key["secret_access_key"] not in stored.sealed_secret  # encrypted at rest

    listed = api.get("/api/access-keys/")
    assert [row["access_key_id"] for row in listed.json()] == [key["access_key_id"]]
    assert key["secret_access_key"] not in listed.content.decode() and "secret" not in listed.json()[0]
    assert bob_api.get("/api/access-keys/").json() == []

    # Another user's key is not there to revoke.
    assert bob_api.delete(f"/api/access-keys/{key['id']}/").status_code == 404
    assert AccessKey.objects.get(id=key["id"]).revoked is None
    assert api.delete(f"/api/access-keys/{key['id']}/").status_code == 204
    assert api.get("/api/access-keys/").json()[0]["revoked"] is not None
    assert api.delete(f"/api/access-keys/{key['id']}/").status_code == 404  # revoked already

    refused = api.post("/api/access-keys/", {"name": "  "}, format="json")
    assert refused.status_code == 400 and "name" in refused.json()["fields"]
    second = api.post("/api/access-keys/", {}, format="json").json()
    assert second["access_key_id"] != key["access_key_id"] and second["name"] == "access key"


def test_the_access_key_routes_are_in_the_openapi_schema(api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/access-keys/"]) and "delete" in paths["/api/access-keys/{key_id}/"]


def test_the_account_page_shows_the_secret_once_with_the_lines_to_paste(alice, bob, settings):
    settings.ALLOWED_HOSTS = ["studio.example", "testserver"]
    page = Client()
    page.force_login(alice)
    answer = page.post("/account/access-key/", {"name": "laptop"}, HTTP_HOST="studio.example:8443", secure=True)
    assert answer.status_code == 200
    lines = re.search(r'<pre id="new-access-key">([^<]+)</pre>', answer.content.decode()).group(1).splitlines()
    names = [line.split("=", 1)[0] for line in lines]
    assert names == ["export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY", "export AWS_DEFAULT_REGION",
                     "export AWS_ENDPOINT_URL"]
    values = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert KEY_ID.match(values["AWS_ACCESS_KEY_ID"]) and SECRET.match(values["AWS_SECRET_ACCESS_KEY"])
    assert values["AWS_DEFAULT_REGION"] == "us-east-1" and values["AWS_ENDPOINT_URL"] == "https://studio.example:8443"

    later = page.get("/account/").content.decode()
    assert values["AWS_SECRET_ACCESS_KEY"] not in later and values["AWS_ACCESS_KEY_ID"] in later  # shown once

    from webapp.accounts.models import AccessKey

    key = AccessKey.objects.get(access_key_id=values["AWS_ACCESS_KEY_ID"])
    other = Client()
    other.force_login(bob)
    assert other.post(f"/account/access-key/{key.id}/revoke/").status_code == 404
    assert page.post(f"/account/access-key/{key.id}/revoke/").status_code == 302
    key.refresh_from_db()
    assert key.revoked is not None and "revoked" in page.get("/account/").content.decode()
    assert page.post("/account/access-key/", {"name": ""}).status_code == 400


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_key_made_on_the_phone_sized_page_signs_boto3_until_revoked(page, asgi_server, alice, monkeypatch):
    import boto3
    import botocore.exceptions

    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/account/")
    page.fill("#access_key_name", "notebook")
    page.click("text=Make an access key")
    lines = page.inner_text("#new-access-key").splitlines()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-account-access-key")

    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    for line in lines:  # pasted into the notebook's environment
        name, value = line.removeprefix("export ").split("=", 1)
        monkeypatch.setenv(name, value)
    assert lines[-1] == f"export AWS_ENDPOINT_URL={asgi_server}"

    def invoke():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        client = boto3.client("sagemaker-runtime", config=botocore.config.Config(retries={"total_max_attempts": 1}))
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            client.invoke_endpoint(EndpointName="nothing-yet", ContentType="image/jpeg", Body=b"\xff\xd8\xff")
        return refused.value.response["Error"]

    # The signature is taken: what refuses is only that Alice has no such model yet.
    assert invoke()["Message"].startswith("Endpoint nothing-yet of account alice not found")

    page.goto(f"{asgi_server}/account/")
    page.click("#access-keys button:has-text('Revoke')")
    page.wait_for_selector("#access-keys :text('revoked')")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert invoke()["Code"] == "UnrecognizedClientException"
