"""The Celery app. Queues: ``cpu`` (packing, small inference) and ``gpu`` (training, one job per GPU).

Configured here, with Django's settings, because every Django process sends tasks through it: the core
app makes it the current app when Django starts (webapp/core/apps.py), so the apps' ``@shared_task``s
(each app's ``tasks.py``, found by autodiscovery) use its broker and routes. ``workers/celery.py`` is the
worker processes' entry point (``celery -A workers``).

Tasks are short-lived or resumable, so a worker reserves one task at a time and there is no
global time limit that would kill a training run.
"""
from __future__ import annotations

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings")

app = Celery("icstudio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_default_queue="cpu",
    task_routes={"webapp.datasets.tasks.build_version": {"queue": "cpu"},
                 "webapp.training.tasks.train_job": {"queue": "gpu"},
                 "webapp.registry.tasks.validate_model": {"queue": "cpu"},
                 "webapp.registry.tasks.batch_transform": {"queue": "cpu"}},
    worker_prefetch_multiplier=1,
    task_track_started=True,
    broker_connection_retry_on_startup=True,
    # Keep Django's LOGGING (plain or JSON lines, LOG_FORMAT) instead of Celery's own format.
    worker_hijack_root_logger=False,
    # Twice per stale interval (at most every 30 s): a dead worker's job is requeued at most 1.5 stale
    # intervals after its last heartbeat.
    beat_schedule={"requeue-stale-jobs": {"task": "webapp.core.tasks.requeue_stale_jobs",
                                          "schedule": min(30.0, max(1.0, settings.TRAINING_STALE_SECONDS / 2))}},
    # An unacknowledged job message returns only after this; the heartbeat check resumes jobs sooner.
    broker_transport_options={"visibility_timeout": 12 * 3600},
)
app.autodiscover_tasks()  # each installed app's tasks.py
