"""Reads about accounts."""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import QuerySet

from webapp.accounts import secrets_at_rest
from webapp.accounts.models import AccessKey, ApiKey


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys, newest first: names and dates only, the secret is not kept."""
    return ApiKey.objects.filter(user=user)


def access_key_list(*, user: User) -> QuerySet[AccessKey]:
    """The user's access keys, newest first, revoked ones too (marked): ids, names and dates, never secrets."""
    return AccessKey.objects.filter(user=user)


@dataclass(frozen=True)
class ActiveAccessKey:
    access_key: AccessKey
    user: User
    secret: str


def active_access_key(access_key_id: str) -> ActiveAccessKey | None:
    """The active user whose unrevoked key this is, with its secret; None for anyone else's id or nonsense."""
    if not access_key_id or len(access_key_id) > 20:
        return None
    access_key = (AccessKey.objects.select_related("user")
                  .filter(access_key_id=access_key_id, revoked__isnull=True).first())
    if access_key is None or not access_key.user.is_active:
        return None
    secret = secrets_at_rest.unseal(access_key.sealed_secret)
    if secret is None:  # sealed under another SECRET_KEY: as good as gone
        return None
    return ActiveAccessKey(access_key, access_key.user, secret)
