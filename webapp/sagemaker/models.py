"""What SageMaker's API adds to a training job made through it: the request as sent, the stages it went
through (SecondaryStatusTransitions), where its model was written, and its tags."""
from __future__ import annotations

from django.db import models

from webapp.training.models import TrainingJob


class ApiJob(models.Model):
    """A TrainingJob made by CreateTrainingJob. Its TrainingJobStatus is the job's state; the stages before
    and after the training itself (Starting, Downloading, Uploading) are kept here."""

    job = models.OneToOneField(TrainingJob, on_delete=models.CASCADE, related_name="sagemaker")
    request = models.JSONField()  # CreateTrainingJob's request, what DescribeTrainingJob echoes
    region = models.CharField(max_length=32, default="us-east-1")
    secondary_status = models.CharField(max_length=40, default="Starting")
    # [{"Status", "StartTime", "EndTime", "StatusMessage"}], times as epoch seconds
    transitions = models.JSONField(default=list)
    model_artifacts = models.CharField(max_length=1100, blank=True)  # s3://.../<job>/output/model.tar.gz
    max_runtime_exceeded = models.BooleanField(default=False)
    training_started = models.DateTimeField(null=True, blank=True)
    last_modified = models.DateTimeField(auto_now=True)


class Tag(models.Model):
    """A tag of a training job (AddTags, ListTags): any job, browser-made ones too."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=128)
    value = models.CharField(max_length=256, blank=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="unique_tag_key_per_job")]
