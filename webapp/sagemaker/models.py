"""What SageMaker's API adds to IC Studio's own objects: to a training job made through it (the request as
sent, the stages it went through, where its model was written, its tags), to a model, to a batch transform;
and what only the API has: endpoint configurations and endpoints."""
from __future__ import annotations

from django.conf import settings
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


class ApiModel(models.Model):
    """What CreateModel adds to an IC Studio model: the request as sent (PrimaryContainer, ExecutionRoleArn),
    DescribeModel's echo. A model made in the browser has none and is described from its own fields."""

    model = models.OneToOneField("registry.RegisteredModel", on_delete=models.CASCADE, related_name="sagemaker")
    request = models.JSONField()
    region = models.CharField(max_length=32, default="us-east-1")


class EndpointConfig(models.Model):
    """CreateEndpointConfig's production variants, by model name as the request gave them."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="endpoint_configs")
    name = models.CharField(max_length=63)
    # [{"VariantName", "ModelName", "InitialInstanceCount", "InstanceType", "InitialVariantWeight"}]
    variants = models.JSONField()
    request = models.JSONField()
    region = models.CharField(max_length=32, default="us-east-1")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_endpoint_config_name")]


class Endpoint(models.Model):
    """A name the serving workers answer on. ``variants`` is what it serves now, resolved from its config when
    it went InService (a config may be deleted while an endpoint uses it, as on AWS); ``pending_*`` is the
    config an UpdateEndpoint is warming, served only once it is warm."""

    class Status(models.TextChoices):
        CREATING = "Creating"
        IN_SERVICE = "InService"
        UPDATING = "Updating"
        FAILED = "Failed"
        DELETING = "Deleting"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=63)
    config_name = models.CharField(max_length=63)
    # [{"VariantName", "ModelName", "model": <RegisteredModel id>, "InitialInstanceCount", "InstanceType", ...}]
    variants = models.JSONField(default=list)
    pending_config_name = models.CharField(max_length=63, blank=True)
    pending_variants = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    failure_reason = models.TextField(blank=True)
    request = models.JSONField(default=dict)
    region = models.CharField(max_length=32, default="us-east-1")
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_endpoint_name")]


class ApiTransform(models.Model):
    """What CreateTransformJob adds to an IC Studio batch transform: the request, and the S3 objects it reads
    (``inputs``: keys in order; each one's output is ``<S3OutputPath>/<key relative to the prefix>.out``)."""

    transform = models.OneToOneField("registry.BatchTransform", on_delete=models.CASCADE, related_name="sagemaker")
    request = models.JSONField()
    region = models.CharField(max_length=32, default="us-east-1")
    inputs = models.JSONField(default=list)
    started = models.DateTimeField(null=True, blank=True)
