"""Secrets the server must read back, encrypted at rest.

An AWS secret access key cannot be kept as a digest the way an API token is: SigV4 signs with the secret
itself, so the server recomputes the signature from it. It is kept encrypted with Fernet (AES-128-CBC and
an HMAC) under a key derived from Django's SECRET_KEY, so a copy of the database alone gives no one a
working secret. Changing SECRET_KEY makes the stored secrets unreadable: their access keys stop working
and their owners make new ones.
"""
from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Names what the derived key is for, so no other use of SECRET_KEY yields the same bytes.
PURPOSE = b"ic-studio access key secrets v1"


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(plaintext: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(plaintext.encode()).decode("ascii")


def unseal(sealed: str) -> str | None:
    """The plaintext, or None if it was sealed under another SECRET_KEY (or altered)."""
    try:
        return _fernet(settings.SECRET_KEY).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        return None
