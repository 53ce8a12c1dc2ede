"""Reads about training jobs."""
from __future__ import annotations

import statistics

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from webapp.training.models import TrainingJob


def job_get(*, user, job_id: int) -> TrainingJob:
    return get_object_or_404(TrainingJob, id=job_id, owner=user)


def job_list(*, user) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(owner=user).select_related("version__dataset")


def base_models(*, user) -> QuerySet[TrainingJob]:
    return job_list(user=user).filter(state=TrainingJob.State.SUCCEEDED).exclude(artifact="")


def duration_estimate(*, hyperparameters: dict[str, str]) -> float | None:
    """Seconds for these hyperparameters, from the throughput measured on past jobs (anyone's: it is
    the machine being measured) of the same depth and input size; None before the first such job."""
    same = TrainingJob.objects.filter(images_per_sec__isnull=False,
                                      hyperparameters__num_layers=hyperparameters.get("num_layers"),
                                      hyperparameters__image_shape=hyperparameters.get("image_shape"))
    speeds = list(same.values_list("images_per_sec", flat=True)[:20])
    if not speeds:
        return None
    images = int(hyperparameters["num_training_samples"]) * int(hyperparameters.get("epochs", 30))
    return images / statistics.median(speeds)
