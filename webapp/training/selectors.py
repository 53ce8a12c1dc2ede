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


def jobs_of_dataset(*, dataset) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(version__dataset=dataset).select_related("version")


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


def evaluation_for_page(*, job: TrainingJob) -> dict | None:
    """The evaluation with each prediction tied to its image in the dataset's working copy, so the page
    can show it and relabel it; misclassified ones first, the most confident mistakes first."""
    from webapp.datasets.models import Image
    from webapp.training.models import Evaluation

    evaluation = Evaluation.objects.filter(job=job).first()
    if evaluation is None:
        return None
    data = dict(evaluation.data)
    stored = dict(job.version.items.values_list("index", "stored"))
    images = dict(Image.objects.filter(dataset_id=job.version.dataset_id, stored__in=stored.values())
                  .values_list("stored", "id"))
    rows = []
    for row in data["predictions"]:
        image_id = images.get(stored.get(row["key"]))
        rows.append({**row, "image": image_id, "correct": row["labels"] == row["predicted"],
                     "thumbnail": f"/datasets/{job.version.dataset_id}/images/{image_id}/thumbnail" if image_id else None})
    data["predictions"] = sorted(rows, key=lambda r: (r["correct"], -r["confidence"]))
    data["dataset"] = job.version.dataset_id
    data["class_ids"] = dict(job.version.dataset.classes.values_list("name", "id"))
    return data
