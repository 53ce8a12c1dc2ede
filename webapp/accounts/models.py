"""API keys, kept as digests only; AWS-style access keys, their secrets encrypted; and the sign-in failures
the rate limit counts."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """One named API token. The secret is shown once when made; only its sha256 is kept, so a copy of the
    database gives no one a working token."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.user} · {self.name}"


class AccessKey(models.Model):
    """An AWS-style credential for SigV4-signed requests (boto3, the SageMaker SDK). The id is public, like
    AWS's ``AKIA...``; the secret is shown once when made and kept encrypted (see secrets_at_rest), because
    verifying a signature needs the secret itself. Revoking keeps the row, so the list says what was used."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys")
    name = models.CharField(max_length=100)
    access_key_id = models.CharField(max_length=20, unique=True)
    sealed_secret = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.user} · {self.access_key_id}"


class SigninFailure(models.Model):
    """A wrong password for ``username`` from ``address``; rows older than the window are pruned."""

    username = models.CharField(max_length=150)
    address = models.CharField(max_length=45)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["username", "at"]), models.Index(fields=["address", "at"])]
