"""Models ready to predict with, and batch transforms run with them."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from webapp.core.models import LeasedWork
from webapp.training.models import TrainingJob

# SageMaker's endpoint-name rule, so a model's name is the EndpointName a client passes.
ENDPOINT_NAME = RegexValidator(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
                               "1-63 letters, digits and hyphens, starting and ending with a letter or digit")


class RegisteredModel(models.Model):
    class Source(models.TextChoices):
        TRAINED = "trained"
        IMPORTED = "imported"

    class State(models.TextChoices):
        VALIDATING = "validating"  # an import a worker is loading to check its weights
        READY = "ready"
        INVALID = "invalid"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=63, validators=[ENDPOINT_NAME])
    source = models.CharField(max_length=8, choices=Source.choices)
    job = models.OneToOneField(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="model")
    artifact = models.CharField(max_length=500)  # model.tar.gz under MEDIA_ROOT
    size_bytes = models.BigIntegerField(default=0)
    class_names = models.JSONField(default=list)
    hyperparameters = models.JSONField(default=dict)
    image_shape = models.JSONField(default=list)  # [C, H, W]
    num_layers = models.IntegerField(null=True, blank=True)
    num_classes = models.IntegerField(default=0)
    metrics = models.JSONField(default=dict)  # the kept epoch's, for a trained model
    kept_epoch = models.IntegerField(null=True, blank=True)  # 1-based: the epoch whose weights it holds
    kept_reason = models.CharField(max_length=300, blank=True)  # "epoch 7 of 10: best validation accuracy"
    state = models.CharField(max_length=10, choices=State.choices, default=State.READY)
    reason = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)  # what POST /invocations answers with
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_model_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def validation_accuracy(self) -> float | None:
        return self.metrics.get("validation:accuracy")


class BatchTransform(LeasedWork):
    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Kind(models.TextChoices):
        ZIP = "zip"
        RECORDIO = "rec"
        S3 = "s3"  # CreateTransformJob: S3 objects in, one <key>.out each back to S3 (webapp/sagemaker/)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="transforms")
    name = models.CharField(max_length=63, blank=True)  # SageMaker's TransformJobName, unique per owner when set
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="transforms")
    kind = models.CharField(max_length=3, choices=Kind.choices)
    input_name = models.CharField(max_length=255)  # what the user uploaded, for the page
    directory = models.CharField(max_length=500)  # under MEDIA_ROOT: input.zip | input.rec (+ input.lst), output
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    reason = models.TextField(blank=True)
    total = models.IntegerField(default=0)
    done = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)  # images that could not be decoded (their lines carry "error")
    cancel_requested = models.BooleanField(default=False)  # its worker stops after the batch it is on
    worker = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], condition=~models.Q(name=""),
                                               name="unique_transform_name_per_owner")]

    @property
    def output(self) -> str:
        return f"{self.directory}/output.jsonl"

    @property
    def progress(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def finished_state(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED, self.State.CANCELLED)

    def notice(self) -> dict:
        """What the transform's page draws, as its owner's pages hear it (webapp/core/notices.py)."""
        return {"type": "transform", "transform": self.id, "state": self.state, "progress": self.progress,
                "done": self.done, "total": self.total, "failed": self.failed, "reason": self.reason}
