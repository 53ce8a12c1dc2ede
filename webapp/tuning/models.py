"""Automatic model tuning: a search over hyperparameter ranges whose trials are ordinary training jobs.

A tuning job is made in the browser (the Tune page of a dataset version) or by SageMaker's
CreateHyperParameterTuningJob (its request kept in ``request``); either way the same scheduler
(webapp/tuning/running.py) asks Optuna for each trial's hyperparameters, starts the trials as training jobs,
and stops those that fall behind when early stopping is on."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp.datasets.models import DatasetVersion
from webapp.training.models import TrainingJob


class TuningJob(models.Model):
    class Strategy(models.TextChoices):
        BAYESIAN = "Bayesian"
        RANDOM = "Random"
        GRID = "Grid"
        HYPERBAND = "Hyperband"

    class Status(models.TextChoices):  # SageMaker's HyperParameterTuningJobStatus
        IN_PROGRESS = "InProgress"
        COMPLETED = "Completed"
        FAILED = "Failed"
        STOPPING = "Stopping"
        STOPPED = "Stopped"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tuning_jobs")
    name = models.CharField(max_length=32)  # SageMaker's HyperParameterTuningJobName: at most 32 characters
    # The browser's tuning jobs train on a version; the API's read S3 channels from ``request``.
    version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="tuning_jobs", null=True,
                                blank=True)
    strategy = models.CharField(max_length=10, choices=Strategy.choices, default=Strategy.BAYESIAN)
    objective = models.CharField(max_length=40, default="validation:accuracy")  # maximised
    # SageMaker's ParameterRanges as sent: {"ContinuousParameterRanges": [{"Name", "MinValue", "MaxValue",
    # "ScalingType"}], "IntegerParameterRanges": [...], "CategoricalParameterRanges": [{"Name", "Values"}]}
    ranges = models.JSONField()
    static_hyperparameters = models.JSONField(default=dict)  # strings, as a training job's
    max_jobs = models.IntegerField()
    max_parallel = models.IntegerField()
    early_stopping = models.BooleanField(default=False)  # TrainingJobEarlyStoppingType Auto
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.IN_PROGRESS)
    reason = models.TextField(blank=True)  # FailureReason
    best_job = models.ForeignKey(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    request = models.JSONField(default=dict, blank=True)  # CreateHyperParameterTuningJob's request, if made so
    region = models.CharField(max_length=32, default="us-east-1")
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_tuning_job_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def finished_state(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.FAILED, self.Status.STOPPED)


class Trial(models.Model):
    """One training job of a tuning job: Optuna's trial ``number`` and the hyperparameters it chose."""

    tuning = models.ForeignKey(TuningJob, on_delete=models.CASCADE, related_name="trials")
    job = models.OneToOneField(TrainingJob, on_delete=models.CASCADE, related_name="trial")
    number = models.IntegerField()
    tuned = models.JSONField()  # {name: string value}: TunedHyperParameters
    objective = models.FloatField(null=True, blank=True)  # the final objective metric, when it has one
    early_stopped = models.BooleanField(default=False)  # stopped by the pruner, not by a user
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["tuning", "number"], name="unique_trial_number")]
