"""Thin tasks: they take ids, re-read the rows and call a service."""
from __future__ import annotations

from workers import presence  # noqa: F401  (connects the worker's heartbeat to its start)
from workers.celery import app


@app.task(acks_late=True, reject_on_worker_lost=True)
def build_version(version_id: int) -> str:
    """Idempotent: a re-delivered build writes the same files again."""
    from webapp.datasets.services.building import version_build

    return version_build(version_id=version_id)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def train_job(self, job_id: int) -> str:
    """Idempotent and resumable: a re-delivered job continues from its last finished epoch."""
    from webapp.training.running import job_run

    return job_run(job_id=job_id, worker=self.request.hostname or "worker")


@app.task
def requeue_stale_jobs() -> list[int]:
    """Periodic (Celery beat): find training jobs and batch transforms whose worker died; queue them to resume."""
    from webapp.registry.services import transforms_requeue_stale
    from webapp.training.services import jobs_requeue_stale

    return jobs_requeue_stale() + transforms_requeue_stale()


@app.task(acks_late=True, reject_on_worker_lost=True)
def validate_model(model_id: int) -> str:
    """Idempotent: loading a model twice gives the same verdict."""
    from webapp.registry.services import model_validate

    return model_validate(model_id=model_id)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def batch_transform(self, transform_id: int) -> str:
    """Resumable: a redelivered transform continues after the last line it wrote."""
    from webapp.registry.services import transform_run

    return transform_run(transform_id=transform_id, worker=self.request.hostname or "worker")
