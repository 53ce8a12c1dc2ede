"""``Authorization: Token <secret>`` for the JSON API, checked against the stored digests."""
from __future__ import annotations

from rest_framework import authentication, exceptions

from webapp.accounts.services import user_for_api_key


class ApiKeyAuthentication(authentication.TokenAuthentication):
    """DRF's header parsing and 401 challenge (``WWW-Authenticate: Token``), our keys."""

    def authenticate_credentials(self, key):
        user = user_for_api_key(key)
        if user is None:
            raise exceptions.AuthenticationFailed(
                "The API token is not valid (mistyped, revoked or expired); make one on your account page.")
        return user, None
