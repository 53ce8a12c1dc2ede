"""Writes about users: sign-up and API tokens."""
from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def user_create(*, username: str, password: str) -> User:
    """A new account; the first one on an installation is staff, so someone can see the health page."""
    first = not User.objects.exists()
    return User.objects.create_user(username=username, password=password, is_staff=first)


def token_get(*, user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token


@transaction.atomic
def token_regenerate(*, user: User) -> Token:
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)
