"""The beat task over every kind of leased work.

It sits here, beside the lease module and the broker reader it uses, rather than in one of the apps: it
serves training jobs, version builds and batch transforms alike, and the next leased kinds (tuning,
control-plane jobs) join it here. Each app's own requeue (which records its changes its own way) is
imported when the task runs, so importing core imports no domain app.
"""
from __future__ import annotations

from celery import current_app, shared_task
from django.conf import settings


@shared_task
def requeue_stale_jobs() -> list[int]:
    """Periodic (Celery beat): training jobs, version builds and batch transforms whose worker died are
    queued to resume (or failed past WORK_MAX_ATTEMPTS); queued ones whose message the broker lost
    (Redis restarted) are sent again; every unfinished tuning job takes a step."""
    from webapp.core.broker import held_task_ids
    from webapp.core.leases import WORK, resend_lost
    from webapp.datasets.services.building import versions_requeue_stale
    from webapp.registry.services import transforms_requeue_stale
    from webapp.training.services import jobs_requeue_stale

    from webapp.tuning.running import tunings_advance_all

    requeued = jobs_requeue_stale() + versions_requeue_stale() + transforms_requeue_stale()
    tunings_advance_all()  # a step a dead process missed (a trial failed past its attempts) is taken here
    app = current_app
    queues = {route["queue"] for route in app.conf.task_routes.values()} | {app.conf.task_default_queue}
    held = held_task_ids(app, queues, taken_within=settings.WORK_RESEND_SECONDS)
    return requeued + [row for work in WORK.values() for row in resend_lost(work, held)]
