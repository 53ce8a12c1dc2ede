"""Reads about buckets."""
from __future__ import annotations

from webapp.s3.models import Bucket


def bucket_of(*, user, name: str) -> Bucket | None:
    """The user's bucket of that name, or None when it is missing or someone else's."""
    return Bucket.objects.filter(owner=user, name=name).first()


def bucket_exists(name: str) -> bool:
    return Bucket.objects.filter(name=name).exists()


def bucket_list(*, user):
    return Bucket.objects.filter(owner=user)
