"""Work a worker holds by beating: training jobs and batch transforms both claim and give back rows so.

A row is the worker's while its ``heartbeat`` is fresher than ``TRAINING_STALE_SECONDS``; after
that, it is stale, and the beat task hands it to another worker, which resumes it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone


def stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.TRAINING_STALE_SECONDS)


def claim(rows: QuerySet, *, queued: str, running: str, **fields) -> bool:
    """Take the row if it waits in the queue or its worker stopped beating; False while a live worker
    holds it (a duplicate delivery)."""
    return bool(rows.filter(Q(state=queued) | Q(heartbeat__isnull=True) | Q(heartbeat__lt=stale_before()))
                .update(state=running, heartbeat=timezone.now(), **fields))

