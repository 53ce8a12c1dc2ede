"""Fields every kind of leased work carries (training jobs, version builds, batch transforms)."""
from django.db import models


class LeasedWork(models.Model):
    """The lease (webapp/core/leases.py): the worker's last beat (a stale one means it died: requeued), the
    claim holding it, how often a worker stopped on it, and the last message sent for it (its Celery task id,
    and when), which the beat task looks for in the broker."""

    heartbeat = models.DateTimeField(null=True, blank=True)
    lease = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    sent = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
