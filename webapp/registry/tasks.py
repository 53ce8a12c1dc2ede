"""The registry's Celery tasks: they take ids, re-read the rows and call the worker-side runs."""
from __future__ import annotations

from celery import shared_task

from webapp.core.leases import Leased


@shared_task(acks_late=True, reject_on_worker_lost=True)
def validate_model(model_id: int) -> str:
    """Idempotent: loading a model twice gives the same verdict."""
    from webapp.registry.running import model_validate

    return model_validate(model_id=model_id)


@shared_task(base=Leased, row_argument="transform_id", bind=True, acks_late=True, reject_on_worker_lost=True)
def batch_transform(self, transform_id: int) -> str:
    """Resumable: a redelivered transform continues after the last line it wrote."""
    from webapp.registry.running import transform_run

    return transform_run(transform_id=transform_id, worker=self.request.hostname or "worker")
