"""Reads about accounts."""
from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from webapp.accounts.models import ApiKey


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys, newest first: names and dates only, the secret is not kept."""
    return ApiKey.objects.filter(user=user)
