"""The dataset app's Celery task: it takes a version's id, re-reads the row and calls the builder."""
from __future__ import annotations

from celery import shared_task

from webapp.core.leases import Leased


@shared_task(base=Leased, row_argument="version_id", bind=True, acks_late=True, reject_on_worker_lost=True)
def build_version(self, version_id: int) -> str:
    """Claimed, so a duplicate delivery is a no-op; a build whose worker died resumes."""
    from webapp.datasets.services.building import version_build

    return version_build(version_id=version_id, worker=self.request.hostname or "worker")
