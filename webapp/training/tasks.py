"""The training app's Celery task: it takes a job's id, re-reads the row and calls the runner."""
from __future__ import annotations

from celery import shared_task

from webapp.core.leases import Leased


@shared_task(base=Leased, row_argument="job_id", bind=True, acks_late=True, reject_on_worker_lost=True)
def train_job(self, job_id: int) -> str:
    """Idempotent and resumable: a re-delivered job continues from its last finished epoch."""
    from webapp.training.running import job_run

    return job_run(job_id=job_id, worker=self.request.hostname or "worker")
