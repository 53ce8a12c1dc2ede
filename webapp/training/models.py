"""Training jobs and everything they report, in the order they reported it."""
from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.utils import timezone

from webapp.core import media
from webapp.core.models import LeasedWork
from webapp.datasets.models import DatasetVersion

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's TrainingJobName rule


def browser_job_name(dataset_name: str, number: int, job_id: int) -> str:
    """The SageMaker name of a job started in the browser, ``<dataset>-v<n>-<id>``: unique, since the id is."""
    tail = f"-v{number}-{job_id}"
    stem = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9]+", "-", dataset_name)).strip("-") or "job"
    return stem[:63 - len(tail)].rstrip("-") + tail


class TrainingJob(LeasedWork):
    class Mode(models.TextChoices):
        FULL = "full"
        TRANSFER = "transfer"
        INCREMENTAL = "incremental"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_jobs")
    # SageMaker's TrainingJobName, unique per owner; a browser job gets browser_job_name's.
    name = models.CharField(max_length=63, blank=True)
    # None for a job made through the SageMaker API: its data came from S3 (webapp/sagemaker/).
    version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="training_jobs", null=True,
                                blank=True)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.FULL)
    base_artifact = models.CharField(max_length=500, blank=True)  # model.tar.gz under MEDIA_ROOT (incremental)
    hyperparameters = models.JSONField()  # SageMaker's strings, as validated
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    reason = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=200, blank=True)
    epoch = models.IntegerField(default=-1)  # last finished epoch
    progress = models.FloatField(default=0.0)  # 0..1 over all epochs
    eta = models.FloatField(null=True, blank=True)  # seconds
    images_per_sec = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict)  # the last epoch's
    # The epoch whose weights the model holds (1-based), its figures, and why that one.
    kept_epoch = models.IntegerField(null=True, blank=True)
    kept_metrics = models.JSONField(default=dict, blank=True)
    kept_reason = models.CharField(max_length=300, blank=True)
    # When set, the job ends after this many epochs: a cancelled job made into a model from its checkpoint.
    final_epochs = models.IntegerField(null=True, blank=True)
    artifact = models.CharField(max_length=500, blank=True)  # model.tar.gz under MEDIA_ROOT
    last_seq = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], condition=~models.Q(name=""),
                                               name="unique_job_name_per_owner")]

    @property
    def class_names(self) -> list[str]:
        """The version's class names; an API job knows only its classes' numbers."""
        if self.version_id:
            return list(self.version.class_names)
        return [str(i) for i in range(int(self.hyperparameters.get("num_classes", 0)))]

    @property
    def source_name(self) -> str:
        """What it trained on, for names and pages: "pets v3", or the job's own name."""
        return f"{self.version.dataset.name}-v{self.version.number}" if self.version_id else self.name

    @property
    def group(self) -> str:
        """The Channels group its live messages go to."""
        return f"job.{self.id}"

    @property
    def directory(self) -> str:
        return media.job_relative(self.id)

    @property
    def finished_state(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED, self.State.CANCELLED)

    @property
    def planned_epochs(self) -> int:
        return self.final_epochs or int(self.hyperparameters.get("epochs", 30))

    @property
    def shown_metrics(self) -> dict:
        """The figures of the model it made when it made one, else its last epoch's."""
        return self.kept_metrics or self.metrics

    @property
    def validation_accuracy(self) -> float | None:
        return self.shown_metrics.get("validation:accuracy")


class JobEvent(models.Model):
    """A metric point, a log line or a state change; ``seq`` orders them per job without gaps."""

    class Kind(models.TextChoices):
        METRIC = "metric"
        LOG = "log"
        STATE = "state"

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=6, choices=Kind.choices)
    epoch = models.IntegerField(null=True)
    batch = models.IntegerField(null=True)
    data = models.JSONField()
    created = models.DateTimeField(default=timezone.now)  # CloudWatch's timestamp of a log line

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="unique_job_seq")]

    def message(self) -> dict:
        """The WebSocket message of this event (ARCHITECTURE.md's live metrics contract)."""
        base = {"type": self.kind, "job": self.job_id, "seq": self.seq}
        if self.kind == self.Kind.METRIC:
            return {**base, "epoch": self.epoch, "batch": self.batch, "metrics": self.data}
        return {**base, **self.data}


class Evaluation(models.Model):
    """The finished model on its version's validation split (classifier.evaluation's figures)."""

    job = models.OneToOneField(TrainingJob, on_delete=models.CASCADE, related_name="evaluation")
    data = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)
