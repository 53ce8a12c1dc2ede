"""Writes on training jobs: create (validated as SageMaker validates), cancel."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction

from classifier.errors import HyperparameterError
from classifier.hyperparameters import parse_hyperparameters
from webapp.core import media
from webapp.core.errors import ServiceError
from webapp.datasets.models import DatasetVersion
from webapp.training.models import TrainingJob, browser_job_name
from webapp.training.tasks import train_job

# Filled in from the frozen version, never by hand.
FROM_VERSION = ("num_classes", "num_training_samples", "multi_label")


class InvalidHyperparameters(ServiceError):
    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in problems.items()), "hyperparameters")
        self.problems = problems


def pretrained_depths() -> list[int]:
    """The ImageNet depths whose model-zoo checkpoints are in the model store."""
    from classifier.resnet_depths import IMAGENET_DEPTHS

    return [depth for depth in IMAGENET_DEPTHS if pretrained_available(depth)]


def pretrained_available(num_layers: int) -> bool:
    store = Path(settings.MODEL_STORE)
    return all((store / f"resnet-{num_layers}-{suffix}").exists() for suffix in ("symbol.json", "0000.params"))


def job_hyperparameters(*, version: DatasetVersion, hyperparameters: dict, mode: str) -> dict[str, str]:
    """The job's full SageMaker hyperparameters, or every problem with them at once: SageMaker's own
    rules, then whatever would make the job fail on this version once queued."""
    given = {k: v for k, v in hyperparameters.items() if k not in FROM_VERSION and v not in (None, "")}
    given.update(num_classes=str(len(version.class_names)), num_training_samples=str(version.num_training_samples),
                 multi_label="1" if version.multi_label else "0")
    given["use_pretrained_model"] = "1" if mode == TrainingJob.Mode.TRANSFER else "0"
    problems = _version_problems(version)
    try:
        hp = parse_hyperparameters(given)
    except HyperparameterError as error:
        problems.update(error.problems)
        # Every problem at once: the rest is checked against this version with the faulty values left out.
        try:
            rest = parse_hyperparameters({k: v for k, v in given.items() if k not in error.problems})
        except HyperparameterError:
            raise InvalidHyperparameters(problems) from None
        for name, message in _fit_problems(rest, version=version, mode=mode, unsure=set(error.problems)).items():
            problems.setdefault(name, message)
        raise InvalidHyperparameters(problems) from None
    problems.update(_fit_problems(hp, version=version, mode=mode))
    if problems:
        raise InvalidHyperparameters(problems)
    return hp.to_sagemaker()


def _version_problems(version: DatasetVersion) -> dict[str, str]:
    counts = version.counts.get("images", {})
    if not counts.get("train"):
        return {"version": f"version {version.number} has no training images: split the dataset and freeze "
                           "a new version"}
    if not counts.get("val"):
        return {"version": f"version {version.number} has no validation images, so no epoch could be measured: "
                           "split the dataset (e.g. 80% training) and freeze a new version"}
    return {}


def _fit_problems(hp, *, version: DatasetVersion, mode: str, unsure: set[str] = frozenset()) -> dict[str, str]:
    """What would fail once queued; ``unsure`` names values that are themselves wrong (so not judged)."""
    from webapp.training.selectors import version_shape

    problems = {}
    if (hp.kv_store or "").startswith("dist"):
        # Not silently ignored: a web job's worker trains on one machine, with every GPU it has.
        problems["kv_store"] = (f"{hp.kv_store} spans several machines; a job here trains on one worker with all "
                                "its GPUs (kv_store device). For several machines run "
                                "`python -m classifier train ... --workers N --servers M`")
    if mode == TrainingJob.Mode.TRANSFER and not pretrained_available(hp.num_layers):
        problems["num_layers"] = f"no ImageNet weights for ResNet-{hp.num_layers} in the model store: {_depths_text()}"
    train = version.num_training_samples
    if train and "mini_batch_size" not in unsure and hp.mini_batch_size > train:
        problems["mini_batch_size"] = (f"must be at most the {train} training images of version {version.number}, "
                                       f"not {hp.mini_batch_size}")
    shape = version_shape(version=version)
    _, height, width = hp.image_shape
    if not ({"resize", "image_shape"} & unsure) and not hp.resize and shape.smallest and (
            shape.smallest[0] < width or shape.smallest[1] < height):
        problems["image_shape"] = (
            f"the smallest images of version {version.number} are {shape.smallest[0]} px wide and "
            f"{shape.smallest[1]} px high, less than {width}x{height}: set resize (e.g. {max(width, height)}) to "
            f"scale every image to fit, or a smaller image_shape (at most 3,{shape.smallest[1]},{shape.smallest[0]})")
    return problems


def _depths_text() -> str:
    depths = pretrained_depths()
    if depths:
        return f"choose {', '.join(map(str, depths))}, or full training"
    return ("it holds none yet (`python -m classifier fetch-pretrained` puts them there), so choose full "
            "training")


@transaction.atomic
def job_create(*, owner, version: DatasetVersion, hyperparameters: dict, mode: str = TrainingJob.Mode.FULL,
               base_artifact: str = "") -> TrainingJob:
    if version.dataset.owner_id != owner.id:
        raise ServiceError("no such version", "version")
    if version.status != DatasetVersion.Status.READY:
        raise ServiceError(f"version {version.number} is {version.status}; wait until it is ready", "version")
    if mode not in TrainingJob.Mode.values:
        raise ServiceError(f"mode must be one of {', '.join(TrainingJob.Mode.values)}", "mode")
    if mode == TrainingJob.Mode.INCREMENTAL and not base_artifact:
        raise ServiceError("incremental training starts from a model", "base_model")
    full = job_hyperparameters(version=version, hyperparameters=hyperparameters, mode=mode)
    if mode == TrainingJob.Mode.INCREMENTAL:
        base_model_check(base_artifact=base_artifact, hyperparameters=full)
    job = TrainingJob.objects.create(owner=owner, version=version, mode=mode, base_artifact=base_artifact,
                                     hyperparameters=full)
    job.name = browser_job_name(version.dataset.name, version.number, job.id)  # describable through SageMaker's API
    job.save(update_fields=["name"])
    transaction.on_commit(partial(train_job.delay, job.id))
    return job


def base_model_store(*, owner, upload) -> str:
    """Keep an uploaded SageMaker ``model.tar.gz`` for incremental training, once its layout checks out.
    Returns its path under MEDIA_ROOT."""
    import shutil

    from classifier import artifacts
    from classifier.errors import ArtifactError
    from webapp.datasets.services.storage import upload_save

    relative = media.new_base_model_relative(owner.id)
    target = upload_save(upload, media.absolute(relative))
    try:  # headers and JSON files only, within the import caps: the training worker unpacks it
        artifacts.list_artifact(target, max_unpacked_bytes=settings.MODEL_MAX_UNPACKED_BYTES,
                                max_members=settings.MODEL_MAX_FILES)
    except ArtifactError as error:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise ServiceError(str(error).replace(str(target), upload.name), "base_upload") from None
    return relative


def base_model_check(*, base_artifact: str, hyperparameters: dict[str, str]) -> None:
    """Refuse, before queueing, a model whose architecture differs from the job's (spec 4.2)."""
    from classifier import artifacts
    from classifier.hyperparameters import architecture_mismatch

    model = artifacts.list_artifact(media.absolute(base_artifact),  # nothing unpacked in the request
                                    max_unpacked_bytes=settings.MODEL_MAX_UNPACKED_BYTES,
                                    max_members=settings.MODEL_MAX_FILES)
    problems = architecture_mismatch(artifacts.architecture_of(model), hyperparameters)
    if problems:
        raise ServiceError("the model cannot seed this job: " + "; ".join(problems), "base_model")


def job_cancel(*, job: TrainingJob) -> TrainingJob:
    """A queued job is cancelled at once; a running one stops within one batch, keeping its checkpoint."""
    if job.finished_state:
        raise ServiceError(f"the job has already {job.state}", "state")
    TrainingJob.objects.filter(id=job.id).update(cancel_requested=True)
    updated = TrainingJob.objects.filter(id=job.id, state=TrainingJob.State.QUEUED).update(
        state=TrainingJob.State.CANCELLED, reason="cancelled before it started")
    job.refresh_from_db()
    if updated:
        from webapp.training.recording import JobRecorder

        JobRecorder(job).state(job.state, job.reason)
    return job


def _requeue(job: TrainingJob, reason: str, **fields) -> TrainingJob:
    from webapp.training.recording import JobRecorder

    with transaction.atomic():
        if not TrainingJob.objects.filter(id=job.id, state=TrainingJob.State.CANCELLED).update(
                state=TrainingJob.State.QUEUED, cancel_requested=False, reason=reason, finished=None, eta=None,
                attempts=0,  # the user's fresh start: the workers that stopped on it before are forgiven
                **fields):
            raise ServiceError("the job is no longer cancelled", "state")
        job.refresh_from_db()
        # Recorded before a worker can take it, so "queued" never follows its "running".
        JobRecorder(job).state(job.state, reason)
        transaction.on_commit(partial(train_job.delay, job.id))
    return job


def job_resume(*, job: TrainingJob) -> TrainingJob:
    """A cancelled job goes back to the queue and continues after its last finished epoch."""
    from webapp.training.selectors import kept_checkpoint

    if job.state != TrainingJob.State.CANCELLED:
        raise ServiceError(f"only a cancelled job can be resumed; this one is {job.state}", "state")
    checkpoint = kept_checkpoint(job=job)
    if checkpoint:
        reason = f"resuming after epoch {checkpoint['epoch']} of {job.planned_epochs}"
    else:
        reason = "starting again: it was cancelled before an epoch finished"
    return _requeue(job, reason)


def job_model_make(*, job: TrainingJob) -> TrainingJob:
    """A model from what a cancelled job kept: a worker packs the weights kept so far (the best
    epoch's, by default) without training further, evaluates them and registers the model."""
    from webapp.training.selectors import kept_checkpoint

    if job.state != TrainingJob.State.CANCELLED:
        raise ServiceError(f"only a cancelled job's checkpoint can be made a model; this one is {job.state}", "state")
    checkpoint = kept_checkpoint(job=job)
    if not checkpoint or not checkpoint["model_epoch"]:
        raise ServiceError("this job kept no weights to make a model of: no epoch finished (or its checkpoint "
                           "was cleaned up); resume it instead", "state")
    return _requeue(job, f"making a model of epoch {checkpoint['model_epoch']} from its checkpoint",
                    final_epochs=checkpoint["epoch"])


def jobs_requeue_stale() -> list[int]:
    """Running jobs whose worker stopped beating (killed, machine lost) go back to the queue; the next
    worker resumes them from their last finished epoch. Nothing the user made is lost. A job its workers
    stopped on WORK_MAX_ATTEMPTS times ends failed, with that reason."""
    from webapp.core.leases import JOBS, requeue_stale
    from webapp.training.recording import JobRecorder

    def recorded(job: TrainingJob, state: str, reason: str) -> None:
        JobRecorder(job).state(state, reason)

    return requeue_stale(JOBS, resuming="resuming from the last checkpoint", on_change=recorded)
