"""The worker side of the live metrics path: store each event with the next ``seq``, then send it to
the job's Channels group. Batch metrics are throttled (the channel layer holds 100 messages per
channel), epoch metrics, logs and state changes never are."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from classifier.events import BatchEnd, Checkpoint, EpochEnd, Log
from webapp.core.notices import notify
from webapp.training.models import JobEvent, TrainingJob

log = logging.getLogger(__name__)
BATCH_INTERVAL = 0.25  # seconds between stored batch points


def shown(text: str) -> str:
    """``text`` as a user may see it: files under the media folder by their name there ("jobs/1/…",
    "versions/3/train.rec"), the model store and the state folder by what they are, never a server path."""
    places = [(settings.MEDIA_ROOT, ""), (settings.MODEL_STORE, "the model store"), (settings.VAR_DIR, "the state folder")]
    for place, name in places:
        root = str(Path(place).resolve()), str(place)
        for variant in dict.fromkeys(root):
            text = text.replace(variant + "/", f"{name}/" if name else "").replace(variant, name or "the media folder")
    return text


class JobRecorder:
    def __init__(self, job: TrainingJob, *, batch_interval: float = BATCH_INTERVAL):
        self.job = job
        self.batch_interval = batch_interval
        self.last_batch_sent = 0.0
        self.layer = get_channel_layer()

    def _record(self, kind: str, data: dict, epoch: int | None = None, batch: int | None = None) -> JobEvent:
        with transaction.atomic():
            TrainingJob.objects.filter(id=self.job.id).update(last_seq=F("last_seq") + 1)
            seq = TrainingJob.objects.values_list("last_seq", flat=True).get(id=self.job.id)
            event = JobEvent.objects.create(job_id=self.job.id, seq=seq, kind=kind, epoch=epoch, batch=batch, data=data)
        try:
            async_to_sync(self.layer.group_send)(self.job.group, {"type": "job.event", "message": event.message()})
        except Exception:  # the stored event is replayed on (re)connect; a lost live copy is harmless
            log.warning("could not publish event %s of job %s", event.seq, self.job.id, exc_info=True)
        return event

    def state(self, state: str, reason: str = "") -> None:
        reason = shown(reason)
        self._record(JobEvent.Kind.STATE, {"state": state, "reason": reason})
        # Every page of the owner hears that a job changed state (dataset pages, the queue).
        notify(self.job.owner_id, {"type": "job", "job": self.job.id, "state": state, "reason": reason,
                                   "dataset": self.job.version.dataset_id if self.job.version_id else None, "metrics": _final_metrics(self.job.id)})

    def __call__(self, event) -> None:
        if isinstance(event, BatchEnd):
            now = time.monotonic()
            last_of_epoch = event.batch == event.batches - 1
            if now - self.last_batch_sent < self.batch_interval and not last_of_epoch:
                return
            self.last_batch_sent = now
            total = event.batches * int(self.job.hyperparameters.get("epochs", 1))
            TrainingJob.objects.filter(id=self.job.id).update(
                progress=(event.epoch * event.batches + event.batch + 1) / total,
                images_per_sec=event.samples_per_sec, heartbeat=timezone.now())
            self._record(JobEvent.Kind.METRIC, {"train:batch_loss": event.loss, "train:batch_accuracy": event.accuracy,
                                                "images_per_sec": event.samples_per_sec, "lr": event.lr,
                                                "batches": event.batches}, event.epoch, event.batch)
        elif isinstance(event, EpochEnd):
            TrainingJob.objects.filter(id=self.job.id).update(epoch=event.epoch, eta=event.eta, metrics=event.metrics,
                                                              heartbeat=timezone.now())
            self._record(JobEvent.Kind.METRIC, {**event.metrics, "elapsed": event.elapsed, "eta": event.eta},
                         event.epoch, None)
        elif isinstance(event, Log):
            self._record(JobEvent.Kind.LOG, {"line": shown(event.line)})
        elif isinstance(event, Checkpoint):
            pass  # the resume checkpoint is the worker's business; its log line says enough


def _final_metrics(job_id: int) -> dict:
    kept, last = TrainingJob.objects.values_list("kept_metrics", "metrics").get(id=job_id)
    return kept or last or {}
