"""Thin tasks: they take ids, re-read the rows and call a service."""
from __future__ import annotations

import logging

from celery import Task
from kombu.exceptions import OperationalError
from kombu.utils.uuid import uuid

from workers import presence  # noqa: F401  (connects the worker's heartbeat to its start)
from workers.celery import app

log = logging.getLogger(__name__)


class Leased(Task):
    """A task on one leased row (webapp/training/heartbeats.py): each message sent is recorded on the row
    first, so the beat task can tell a queued row whose message the broker lost."""

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        from webapp.training.heartbeats import WORK, recorded_send

        task_id = task_id or uuid()
        row_id = args[0] if args else (kwargs or {}).get(self.row_argument)
        if row_id is not None:
            recorded_send(WORK[self.name], row_id, task_id)
        try:
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        except OperationalError:
            if row_id is None:
                raise
            # The broker is away (Redis restarting): the row is queued and its send recorded, so the beat
            # task sends it again once the broker is back; the user's request need not fail for it.
            log.warning("could not send %s for %s: the beat task will send it again", self.name, row_id,
                        exc_info=True)
            return self.AsyncResult(task_id)


@app.task(base=Leased, row_argument="version_id", bind=True, acks_late=True, reject_on_worker_lost=True)
def build_version(self, version_id: int) -> str:
    """Claimed, so a duplicate delivery is a no-op; a build whose worker died resumes."""
    from webapp.datasets.services.building import version_build

    return version_build(version_id=version_id, worker=self.request.hostname or "worker")


@app.task(base=Leased, row_argument="job_id", bind=True, acks_late=True, reject_on_worker_lost=True)
def train_job(self, job_id: int) -> str:
    """Idempotent and resumable: a re-delivered job continues from its last finished epoch."""
    from webapp.training.running import job_run

    return job_run(job_id=job_id, worker=self.request.hostname or "worker")


@app.task
def requeue_stale_jobs() -> list[int]:
    """Periodic (Celery beat): training jobs, version builds and batch transforms whose worker died are
    queued to resume (or failed past WORK_MAX_ATTEMPTS); queued ones whose message the broker lost
    (Redis restarted) are sent again."""
    from django.conf import settings

    from webapp.datasets.services.building import versions_requeue_stale
    from webapp.registry.services import transforms_requeue_stale
    from webapp.training.heartbeats import WORK, resend_lost
    from webapp.training.services import jobs_requeue_stale
    from workers.broker import held_task_ids

    requeued = jobs_requeue_stale() + versions_requeue_stale() + transforms_requeue_stale()
    queues = {route["queue"] for route in app.conf.task_routes.values()} | {app.conf.task_default_queue}
    held = held_task_ids(app, queues, taken_within=settings.WORK_RESEND_SECONDS)
    return requeued + [row for work in WORK.values() for row in resend_lost(work, held)]


@app.task(acks_late=True, reject_on_worker_lost=True)
def validate_model(model_id: int) -> str:
    """Idempotent: loading a model twice gives the same verdict."""
    from webapp.registry.services import model_validate

    return model_validate(model_id=model_id)


@app.task(base=Leased, row_argument="transform_id", bind=True, acks_late=True, reject_on_worker_lost=True)
def batch_transform(self, transform_id: int) -> str:
    """Resumable: a redelivered transform continues after the last line it wrote."""
    from webapp.registry.services import transform_run

    return transform_run(transform_id=transform_id, worker=self.request.hostname or "worker")
