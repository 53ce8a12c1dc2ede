"""Leases on work a worker holds by beating: training jobs, version builds and batch transforms.

A worker ``claim``s a row and beats on it (``Lease``) until the row is finished. A row whose beat is
older than TRAINING_STALE_SECONDS is stale: its worker died, and the beat task queues it again
(``requeue_stale``) for another worker to resume, or fails it once workers have stopped
WORK_MAX_ATTEMPTS times on it. Every message sent for a row is recorded on it (``recorded_send``), so a
queued row whose message vanished from the broker (Redis restarted without persistence) is sent again
(``resend_lost``): their tasks have the ``Leased`` base, which records each send. A duplicate delivery is
harmless: ``claim`` refuses a row a live worker holds.
"""
from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import Task
from celery.utils.imports import symbol_by_name
from django.apps import apps
from django.conf import settings
from django.db import close_old_connections
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError
from kombu.utils.uuid import uuid as task_uuid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    """One kind of leased work: where its rows are, the field and values of their state, and its task."""

    noun: str
    model_label: str
    task: str
    state: str = "state"
    reason: str = "reason"
    queued: str = "queued"
    running: str = "running"
    failed: str = "failed"

    @property
    def model(self):
        return apps.get_model(self.model_label)

    def rows(self, **filters) -> QuerySet:
        return self.model.objects.filter(**filters)


JOBS = Work("job", "training.TrainingJob", "webapp.training.tasks.train_job")
BUILDS = Work("build", "datasets.DatasetVersion", "webapp.datasets.tasks.build_version", state="status",
              reason="error", running="building")
TRANSFORMS = Work("transform", "registry.BatchTransform", "webapp.registry.tasks.batch_transform")
WORK = {work.task: work for work in (JOBS, BUILDS, TRANSFORMS)}


def stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.TRAINING_STALE_SECONDS)


def claim(work: Work, row_id: int, **fields) -> str:
    """Take the row for this worker: the lease token, or "" while a live worker holds it (a duplicate
    delivery) or it is no longer to run. A row taken from a worker that stopped beating counts an attempt."""
    token = uuid.uuid4().hex
    take = {work.state: work.running, "heartbeat": timezone.now(), "lease": token, **fields}
    if work.rows(id=row_id, **{work.state: work.queued}).update(**take):
        return token
    lost = Q(heartbeat__isnull=True) | Q(heartbeat__lt=stale_before())
    if work.rows(id=row_id, **{work.state: work.running}).filter(lost).filter(
            attempts__lt=settings.WORK_MAX_ATTEMPTS - 1).update(attempts=F("attempts") + 1, **take):
        return token
    return ""


def holds(work: Work, row_id: int, token: str) -> bool:
    """Whether the claim ``token`` still holds the row, beating once to say so."""
    return bool(work.rows(id=row_id, lease=token, **{work.state: work.running}).update(heartbeat=timezone.now()))


class Lease(threading.Thread):
    """Beats on a claimed row while the worker works on it, so a killed worker shows as a stale beat.
    ``lost`` is set when another worker took the row over (this one was taken for dead)."""

    def __init__(self, work: Work, row_id: int, token: str):
        super().__init__(daemon=True, name=f"lease-{work.noun}-{row_id}")
        self.work, self.row_id, self.token = work, row_id, token
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.TRAINING_HEARTBEAT_SECONDS):
                try:
                    if not holds(self.work, self.row_id, self.token):
                        self.lost.set()
                        return
                except Exception:  # the database is away for a moment: the next beat tries again
                    log.warning("could not beat on %s %s", self.work.noun, self.row_id, exc_info=True)
        finally:
            close_old_connections()

    def __enter__(self) -> "Lease":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.join(timeout=5)


def recorded_send(work: Work, row_id: int, task_id: str) -> None:
    """What the beat task looks for in the broker: called just before the message is published."""
    work.rows(id=row_id).update(task_id=task_id, sent=timezone.now())


class Leased(Task):
    """The base of a task on one leased row: each message sent is recorded on the row first, so the beat
    task can tell a queued row whose message the broker lost. ``row_argument`` names the row's id."""

    row_argument = "id"

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        task_id = task_id or task_uuid()
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


def _send(work: Work, row_id: int) -> None:
    symbol_by_name(work.task).delay(row_id)  # the task object, from its module (the name is its path)


def worker_stopped(work: Work, row) -> str:
    """Why a row's lease went stale, in the user's words."""
    worker = getattr(row, "worker", "") or "?"
    when = row.heartbeat.strftime("%H:%M:%S UTC") if row.heartbeat else "before it beat"
    return f"worker {worker} stopped responding (its last heartbeat was at {when})"


def requeue_stale(work: Work, *, resuming: str, on_change=None) -> list[int]:
    """Running rows whose worker stopped beating go back to the queue (with ``resuming`` said of them),
    or end failed when that has happened WORK_MAX_ATTEMPTS times. ``on_change(row, state, reason)``
    hears each change before its message is sent. Returns the ids requeued."""
    stale = stale_before()
    cap = settings.WORK_MAX_ATTEMPTS
    requeued = []
    for row in work.rows(**{work.state: work.running}, heartbeat__lt=stale):
        stopped = worker_stopped(work, row)
        still_stale = work.rows(id=row.id, lease=row.lease, heartbeat__lt=stale, **{work.state: work.running})
        if row.attempts + 1 >= cap:
            reason = (f"its worker stopped {row.attempts + 1} times while running it, so it is not tried again; "
                      f"the last: {stopped}. Something in it may stop the worker (memory, a bad file): see "
                      "the worker's log")
            if still_stale.update(**{work.state: work.failed, work.reason: reason}, attempts=F("attempts") + 1,
                                  **_finished(work)):
                if on_change:
                    on_change(row, work.failed, reason)
            continue
        reason = f"{stopped}; {resuming}"
        if still_stale.update(**{work.state: work.queued, work.reason: reason}, attempts=F("attempts") + 1):
            if on_change:
                on_change(row, work.queued, reason)
            _send(work, row.id)
            requeued.append(row.id)
    return requeued


def _finished(work: Work) -> dict:
    return {"finished": timezone.now()} if any(f.name == "finished" for f in work.model._meta.fields) else {}


def resend_lost(work: Work, held: set[str] | None) -> list[int]:
    """Queued rows whose message is not among ``held`` (the task ids the broker holds) though it was sent
    WORK_RESEND_SECONDS ago or more: the message vanished, so it is sent again. ``held`` None: the broker
    cannot tell, so nothing is sent."""
    if held is None:
        return []
    since = timezone.now() - timedelta(seconds=settings.WORK_RESEND_SECONDS)
    lost = (work.rows(**{work.state: work.queued}).annotate(sent_at=Coalesce("sent", "created"))
            .filter(sent_at__lt=since).values_list("id", "task_id"))
    resent = []
    for row_id, task_id in lost:
        if task_id in held:
            continue
        # Only if no one sent it meanwhile (a requeue, a user's resume): the task id is still the lost one.
        if work.rows(id=row_id, task_id=task_id, **{work.state: work.queued}).exists():
            log.warning("%s %s was queued but its message %s is gone from the broker: sending it again",
                        work.noun, row_id, task_id or "(never sent)")
            _send(work, row_id)
            resent.append(row_id)
    return resent
