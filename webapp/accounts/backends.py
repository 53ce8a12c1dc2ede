"""Django's password check, behind the sign-in rate limit (every route that signs in by password uses it:
the sign-in page, the admin's, and ``POST /api/auth/token/``)."""
from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from webapp.accounts.signin_limits import signin_failed, signin_refusal, signin_succeeded


class RateLimitedModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        if signin_refusal(request, username):
            raise PermissionDenied  # authenticate() then tries no other backend: the right password fails too
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            signin_failed(request, username)
        else:
            signin_succeeded(username)
        return user
