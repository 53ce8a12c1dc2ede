"""Who owns which bucket. The objects themselves live in the store; IC Studio keeps only the ownership,
which is what lets one user's keys reach their own buckets and no one else's."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Bucket(models.Model):
    # Bucket names are global, as on AWS: one store holds every user's buckets under their own names.
    name = models.CharField(max_length=63, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="buckets")
    region = models.CharField(max_length=32, default="us-east-1")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
