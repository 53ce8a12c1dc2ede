"""Writes about users: accounts, API keys (named, optionally expiring, kept as sha256 digests) and AWS-style
access keys (named, revocable, their secrets encrypted)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from webapp.accounts import secrets_at_rest
from webapp.accounts.models import AccessKey, ApiKey
from webapp.core import access_generation
from webapp.core.errors import ServiceError

# A key's last use is written at most this often: a busy prediction client must not write a row per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
KEY_PREFIX = "ics_"  # says what a leaked string is, to a person or a secret scanner
# AWS's own forms, so tools and secret scanners that know them know these: AKIA + 16 of base32's alphabet,
# and a 40-character secret of base64's.
ACCESS_KEY_PREFIX = "AKIA"
ACCESS_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class AccountError(ServiceError):
    """A write on an account or its tokens refused; ``field`` names the input at fault."""

    @property
    def message(self) -> str:
        return str(self)


@transaction.atomic
def user_create(*, username: str, password: str, is_staff: bool | None = None) -> User:
    """A new account; the first one on an installation is staff, so someone can see the health page."""
    first = not User.objects.exists()
    return User.objects.create_user(username=username, password=password,
                                    is_staff=first if is_staff is None else is_staff or first)


def api_key_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, user: User, name: str, expires: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key and its secret, which exists nowhere else: show it once."""
    name = name.strip()
    if not name:
        raise AccountError("a token needs a name (what it is for, e.g. 'laptop' or 'nightly job')", "name")
    if len(name) > ApiKey._meta.get_field("name").max_length:
        raise AccountError("a token's name is at most 100 characters", "name")
    if expires is not None and expires <= timezone.now():
        raise AccountError("the expiry must be in the future", "expires")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)  # 256 random bits: a digest lookup needs no salt
    return ApiKey.objects.create(user=user, name=name, digest=api_key_digest(secret), expires=expires), secret


def api_key_revoke(*, user: User, key_id: int) -> bool:
    """Delete one of ``user``'s keys; False if they have no such key."""
    deleted, _ = ApiKey.objects.filter(user=user, id=key_id).delete()
    return bool(deleted)


def user_for_api_key(key: str) -> User | None:
    """The active user whose unexpired key ``key`` is, or None. Records when the key was last used."""
    if not key or len(key) > 200:
        return None
    now = timezone.now()
    api_key = ApiKey.objects.select_related("user").filter(digest=api_key_digest(key)).first()
    if api_key is None or not api_key.user.is_active or (api_key.expires and api_key.expires <= now):
        return None
    if api_key.last_used is None or now - api_key.last_used >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(id=api_key.id).update(last_used=now)
    return api_key.user


def _key_name(name: str, what: str) -> str:
    name = name.strip()
    if not name:
        raise AccountError(f"{what} needs a name (what it is for, e.g. 'laptop' or 'nightly job')", "name")
    if len(name) > 100:
        raise AccountError(f"{what}'s name is at most 100 characters", "name")
    return name


def access_key_create(*, user: User, name: str) -> tuple[AccessKey, str]:
    """A new access key and its secret access key: show the secret once (it is kept only encrypted)."""
    name = _key_name(name, "an access key")
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(40))  # 240 random bits, as AWS's
    while True:
        key_id = ACCESS_KEY_PREFIX + "".join(secrets.choice(ACCESS_KEY_ALPHABET) for _ in range(16))
        if not AccessKey.objects.filter(access_key_id=key_id).exists():
            break
    access_key = AccessKey.objects.create(user=user, name=name, access_key_id=key_id,
                                          sealed_secret=secrets_at_rest.seal(secret))
    return access_key, secret


def access_key_revoke(*, user: User, key_id: int) -> bool:
    """Revoke one of ``user``'s active access keys; False if they have no such key. The row stays, marked."""
    revoked = bool(AccessKey.objects.filter(user=user, id=key_id, revoked__isnull=True).update(revoked=timezone.now()))
    if revoked:
        access_generation.bump_on_commit()  # an update sends no signal; the web processes must forget the key
    return revoked


def access_key_use_due(access_key: AccessKey) -> bool:
    """Whether the key's last use is older than its resolution, so that this use is to be written."""
    return access_key.last_used is None or timezone.now() - access_key.last_used >= LAST_USED_RESOLUTION


def access_key_used(access_key: AccessKey) -> None:
    """Record a signed request's use of the key, at most once a minute (on the row in hand too: a process
    that remembers it then writes again a minute later, not at every request)."""
    if access_key_use_due(access_key):
        now = timezone.now()
        AccessKey.objects.filter(id=access_key.id).update(last_used=now)
        access_key.last_used = now
