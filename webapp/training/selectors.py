"""Reads about training jobs."""
from __future__ import annotations

import statistics

from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import Least
from django.shortcuts import get_object_or_404

from webapp.core import media
from webapp.training.models import TrainingJob
from webapp.training.presets import Preset, VersionShape, basis_of, duration, presets_for, speed_from_table


def job_get(*, user, job_id: int) -> TrainingJob:
    return get_object_or_404(TrainingJob, id=job_id, owner=user)


def job_list(*, user) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(owner=user).select_related("version__dataset")


def jobs_of_dataset(*, dataset) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(version__dataset=dataset).select_related("version")


def base_models(*, user) -> QuerySet[TrainingJob]:
    return job_list(user=user).filter(state=TrainingJob.State.SUCCEEDED).exclude(artifact="")


def version_shape(*, version) -> VersionShape:
    """The version's counts and the sizes of its images (as uploaded; a version packs them unchanged)."""
    from webapp.datasets.models import Image

    images = Image.objects.filter(dataset_id=version.dataset_id, stored__in=version.items.values("stored"))
    short = Least("width", "height")
    sizes = images.aggregate(shortest=Min(short), count=Count("id"), min_w=Min("width"), max_w=Max("width"),
                             min_h=Min("height"), max_h=Max("height"))
    typical = None
    if sizes["count"]:
        ordered = images.annotate(short=short).order_by("short").values_list("short", flat=True)
        typical = ordered[sizes["count"] // 2]
    one_size = len({sizes["min_w"], sizes["max_w"], sizes["min_h"], sizes["max_h"]}) == 1
    square = sizes["min_w"] if sizes["count"] and one_size else None
    counts = version.counts.get("images", {})
    return VersionShape(train=counts.get("train", 0), validation=counts.get("val", 0), classes=len(version.class_names),
                        shortest_side=sizes["shortest"], typical_side=typical, all_square_of=square,
                        smallest=(sizes["min_w"], sizes["min_h"]) if sizes["count"] else None)


def worker_devices() -> dict:
    """What the training workers run on, from their presence beats: ``device`` is "gpu" when any
    worker taking training jobs has a GPU, else "cpu"; ``workers`` counts them (0: jobs wait)."""
    import redis
    from django.conf import settings

    from webapp.core.worker_beats import beats

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        found = list(beats(client).values())
    except (redis.RedisError, ValueError):
        found = []
    trainers = [beat for beat in found if "gpu" in beat.get("queues", [])]
    gpus = sum(len(beat.get("gpus") or []) for beat in trainers)
    return {"device": "gpu" if gpus else "cpu", "workers": len(trainers), "gpus": gpus}


def measured_speed(*, num_layers, image_shape) -> float | None:
    """Median training images/s of past jobs (anyone's: it is the machine being measured) of this depth
    and input size; None before the first such job."""
    same = TrainingJob.objects.filter(images_per_sec__isnull=False, hyperparameters__num_layers=str(num_layers),
                                      hyperparameters__image_shape=image_shape).order_by("-created")
    speeds = list(same.values_list("images_per_sec", flat=True)[:20])
    return statistics.median(speeds) if speeds else None


def training_presets(*, version) -> tuple[list[Preset], dict, VersionShape]:
    """The form's presets for this version on these workers, the workers' devices and the version's shape."""
    devices = worker_devices()
    shape = version_shape(version=version)
    presets = presets_for(shape, devices["device"],
                          lambda depth, image_shape: measured_speed(num_layers=depth, image_shape=image_shape))
    return presets, devices, shape


def duration_estimate(*, version, hyperparameters: dict[str, str], device: str = "cpu") -> tuple[float, str] | None:
    """Seconds these hyperparameters take on this version, and what the figure rests on."""
    try:
        depth, epochs = int(hyperparameters["num_layers"]), int(hyperparameters.get("epochs") or 30)
        side = int(str(hyperparameters["image_shape"]).split(",")[-1])
    except (KeyError, ValueError):
        return None
    counts = version.counts.get("images", {})
    speed = measured_speed(num_layers=depth, image_shape=hyperparameters["image_shape"])
    basis = basis_of(measured=speed is not None, device=device)
    if speed is None:
        speed = speed_from_table(num_layers=depth, side=side, device=device)
    return duration(train=counts.get("train", 0), validation=counts.get("val", 0), epochs=epochs, speed=speed), basis


def queue_place(*, job: TrainingJob) -> dict | None:
    """Where a queued job waits: how many jobs go before it and which of them are the user's own
    (others' jobs are counted, never named)."""
    if job.state != TrainingJob.State.QUEUED:
        return None
    ahead = TrainingJob.objects.filter(Q(state=TrainingJob.State.RUNNING)
                                       | Q(state=TrainingJob.State.QUEUED, created__lt=job.created)).exclude(id=job.id)
    running = list(ahead.filter(state=TrainingJob.State.RUNNING).values_list("id", "owner_id"))
    queued = list(ahead.filter(state=TrainingJob.State.QUEUED).values_list("id", "owner_id"))
    place = {"position": len(queued) + 1, "running": len(running), "queued_before": len(queued),
             "own_running": [i for i, owner in running if owner == job.owner_id],
             "own_queued": [i for i, owner in queued if owner == job.owner_id],
             "workers": worker_devices()["workers"]}
    place["text"] = _queue_text(place)
    return place


def _queue_text(place: dict) -> str:
    if not place["workers"]:
        return ("Waiting for a worker: none takes training jobs right now, so this job starts when one does "
                "(`./dev run` starts one).")
    ahead = [f"job #{i} (running)" for i in place["own_running"]] + [f"job #{i}" for i in place["own_queued"]]
    others = place["running"] + place["queued_before"] - len(ahead)
    if others:
        ahead.append(f"{others} job{'s' if others > 1 else ''} of other users")
    if not ahead:
        return "Next in the queue: it starts as soon as a worker picks it up."
    listed = ahead[0] if len(ahead) == 1 else ", ".join(ahead[:-1]) + " and " + ahead[-1]
    return f"Waiting in the queue (place {place['position']}), behind {listed}."


def evaluation_for_page(*, job: TrainingJob) -> dict | None:
    """The evaluation with each prediction tied to its image in the dataset's working copy, so the page
    can show it and relabel it; misclassified ones first, the most confident mistakes first."""
    from webapp.datasets.models import Image
    from webapp.training.models import Evaluation

    evaluation = Evaluation.objects.filter(job=job).first()
    if evaluation is None:
        return None
    data = dict(evaluation.data)
    if not job.version_id:  # an API job's images are in S3, not in a dataset: no thumbnails to tie them to
        data["predictions"] = sorted(({**row, "image": None, "thumbnail": None,
                                       "correct": row["labels"] == row["predicted"]} for row in data["predictions"]),
                                     key=lambda r: (r["correct"], -r["confidence"]))
        return {**data, "dataset": None, "class_ids": {}}
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


def kept_checkpoint(*, job: TrainingJob) -> dict | None:
    """What a stopped job kept on disk: ``epoch``, the epochs finished (the resume point), and
    ``model_epoch``, the epoch whose weights a model made now would hold (None if none was kept)."""
    from classifier import artifacts, checkpoints

    work = media.job_work_dir(job)
    found = checkpoints.latest(work / "checkpoints")
    if found is None:
        return None
    state = found[0]
    saved = [e for e in state.saved_epochs if (work / "saved" / artifacts.params_name(e)).exists()]
    return {"epoch": state.epoch + 1, "model_epoch": saved[-1] if saved else None}
