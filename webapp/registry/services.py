"""Writes to the registry: models from jobs and imports, defaults, deletion, batch transforms queued.
What workers run (checking an import, a transform) is in running.py."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from webapp.core import media
from webapp.core.errors import ServiceError
from webapp.datasets.services.storage import upload_save
from webapp.registry.models import ENDPOINT_NAME, BatchTransform, RegisteredModel
from webapp.core.leases import TRANSFORMS, requeue_stale
from webapp.core.notices import notify
from webapp.training.models import TrainingJob


def _endpoint_name(text: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9-]+", "-", slugify(text)).strip("-")[:63].strip("-")
    return name or "model"


def _free_name(owner, wanted: str) -> str:
    name, n = wanted, 2
    while RegisteredModel.objects.filter(owner=owner, name=name).exists():
        suffix = f"-{n}"
        name, n = wanted[: 63 - len(suffix)] + suffix, n + 1
    return name


def _check_name(owner, name: str, *, exclude: int | None = None) -> str:
    name = (name or "").strip()
    try:
        ENDPOINT_NAME(name)
    except ValidationError:
        raise ServiceError(f"{name!r} cannot be an endpoint name: use 1-63 letters, digits and hyphens, "
                           "starting and ending with a letter or digit", "name") from None
    if RegisteredModel.objects.filter(owner=owner, name=name).exclude(id=exclude).exists():
        raise ServiceError(f"you already have a model named {name!r}", "name")
    return name


def _shape(text: str) -> list[int]:
    return [int(n) for n in str(text).split(",")]


def model_register_trained(*, job: TrainingJob) -> RegisteredModel:
    """The model a succeeded job made; idempotent, since a redelivered job may succeed twice."""
    existing = RegisteredModel.objects.filter(job=job).first()
    if existing:
        return existing
    hp = job.hyperparameters
    path = media.artifact_path(job)
    return RegisteredModel.objects.create(
        owner=job.owner, job=job, source=RegisteredModel.Source.TRAINED, artifact=job.artifact,
        name=_free_name(job.owner, _endpoint_name(f"{job.source_name}-job{job.id}")),
        size_bytes=path.stat().st_size if path.exists() else 0,
        class_names=job.class_names, hyperparameters=hp,
        image_shape=_shape(hp.get("image_shape", "3,224,224")), num_layers=int(hp.get("num_layers", 152)),
        num_classes=int(hp.get("num_classes", len(job.class_names))),
        # The figures of the epoch whose weights it holds, which its evaluation measures too, not the last epoch's.
        metrics=job.kept_metrics or job.metrics, kept_epoch=job.kept_epoch, kept_reason=job.kept_reason,
        is_default=not RegisteredModel.objects.filter(owner=job.owner, is_default=True).exists(),
    )


def model_import(*, owner, upload, name: str = "") -> RegisteredModel:
    """Keep an uploaded ``model.tar.gz`` (SageMaker's or IC Studio's) once its layout checks out;
    a worker then unpacks and loads it to check its weights against its network. The request only reads
    headers and the JSON files (``artifacts.list_artifact``), within MODEL_MAX_UNPACKED_BYTES and
    MODEL_MAX_FILES: it writes nothing but the upload. A refused file is not kept, whatever refused it."""
    stem = re.sub(r"(\.tar)?\.gz$", "", Path(upload.name or "model").name)
    name = _check_name(owner, name) if name else _free_name(owner, _endpoint_name(stem))
    relative = media.new_model_relative(owner.id)
    upload_save(upload, media.absolute(relative))
    return model_import_stored(owner=owner, name=name, relative=relative, shown_as=upload.name or "the upload")


def model_import_stored(*, owner, name: str, relative: str, shown_as: str) -> RegisteredModel:
    """An artifact already written at ``relative`` (an upload, or CreateModel's S3 object), kept as an import
    under ``name`` as ``model_import`` keeps one, or refused and removed. ``shown_as``: what the user calls it."""
    target = media.absolute(relative)
    try:
        model = _imported(owner=owner, name=name, relative=relative, shown_as=shown_as)
    except BaseException:  # a refusal, or a fault no check foresaw: no orphan file either way
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    from webapp.registry.tasks import validate_model

    transaction.on_commit(lambda: validate_model.delay(model.id))
    return model


def _imported(*, owner, name: str, relative: str, shown_as: str) -> RegisteredModel:
    from classifier import artifacts
    from classifier.errors import ArtifactError

    target = media.absolute(relative)
    try:
        unpacked = artifacts.list_artifact(target, max_unpacked_bytes=settings.MODEL_MAX_UNPACKED_BYTES,
                                           max_members=settings.MODEL_MAX_FILES)
        shape = artifacts.architecture_of(unpacked)
    except ArtifactError as error:
        reason = str(error).replace(str(target), shown_as)
        raise ServiceError(reason if reason.startswith(shown_as) else f"{shown_as}: {reason}", "artifact") from None
    num_classes = shape["num_classes"] or len(unpacked.class_names or [])
    if not num_classes:
        raise ServiceError(f"{shown_as}: the network has no fc1 layer, so it is not an image-classification model",
                           "artifact")
    class_names = unpacked.class_names or [str(i) for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ServiceError(f"{shown_as}: class-names.json names {len(class_names)} classes but the network has "
                           f"{num_classes} outputs", "artifact")
    try:
        return RegisteredModel.objects.create(
            owner=owner, name=name, source=RegisteredModel.Source.IMPORTED, artifact=relative, size_bytes=target.stat().st_size,
            class_names=class_names, hyperparameters=unpacked.hyperparameters, image_shape=list(shape["image_shape"]),
            num_layers=shape["num_layers"], num_classes=num_classes, state=RegisteredModel.State.VALIDATING,
            is_default=not RegisteredModel.objects.filter(owner=owner, is_default=True).exists(),
        )
    except IntegrityError:
        raise ServiceError(f"you already have a model named {name!r}", "name") from None


def model_update(*, model: RegisteredModel, name: str | None = None, is_default: bool | None = None) -> RegisteredModel:
    if name is not None and name != model.name:
        model.name = _check_name(model.owner, name, exclude=model.id)
    with transaction.atomic():
        if is_default:
            RegisteredModel.objects.filter(owner=model.owner, is_default=True).exclude(id=model.id).update(is_default=False)
        if is_default is not None:
            model.is_default = is_default
        model.save()
    return model


def model_delete(*, model: RegisteredModel) -> None:
    """Delete the model and its file; refused while a job still has to read that file."""
    if TrainingJob.objects.filter(base_artifact=model.artifact, state__in=["queued", "running"]).exists():
        raise ServiceError("a queued or running incremental-training job starts from this model; "
                           "cancel it or wait for it to finish first")
    if model.transforms.filter(state__in=[BatchTransform.State.QUEUED, BatchTransform.State.RUNNING]).exists():
        raise ServiceError("a batch transform is running with this model; wait for it to finish first")
    artifact = media.artifact_path(model)
    with transaction.atomic():
        for transform in model.transforms.all():
            shutil.rmtree(media.transform_dir(transform), ignore_errors=True)
        if model.job_id:
            TrainingJob.objects.filter(id=model.job_id).update(artifact="")
        was_default = model.is_default
        model.delete()
        if was_default:
            successor = RegisteredModel.objects.filter(owner=model.owner, state=RegisteredModel.State.READY).first()
            if successor:
                RegisteredModel.objects.filter(id=successor.id).update(is_default=True)
    if model.source == RegisteredModel.Source.IMPORTED:
        shutil.rmtree(artifact.parent, ignore_errors=True)
    else:
        artifact.unlink(missing_ok=True)


def transform_create(*, owner, model: RegisteredModel, upload, lst_upload=None) -> BatchTransform:
    """Store the input (a zip of images, or a .rec with an optional .lst for names) and queue the work."""
    if model.state != RegisteredModel.State.READY:
        raise ServiceError(f"model {model.name} is {model.state}, not ready to predict", "model")
    suffix = Path(upload.name or "").suffix.lower()
    if suffix not in (".zip", ".rec"):
        raise ServiceError(f"{upload.name}: send a .zip of images or a .rec (with its .lst for file names)", "input")
    if lst_upload is not None and suffix != ".rec":
        raise ServiceError("a .lst names the records of a .rec; send it with a .rec", "lst")
    transform = BatchTransform.objects.create(
        owner=owner, model=model, kind=BatchTransform.Kind.ZIP if suffix == ".zip" else BatchTransform.Kind.RECORDIO,
        input_name=Path(upload.name).name[:255], directory="")
    transform.directory = media.transform_relative(owner.id, transform.id)
    transform.save(update_fields=["directory"])
    folder = media.transform_dir(transform)
    folder.mkdir(parents=True, exist_ok=True)
    for source, name in ((upload, f"input{suffix}"), (lst_upload, "input.lst")):
        if source is not None:
            upload_save(source, folder / name)
    from webapp.registry.tasks import batch_transform

    transaction.on_commit(lambda: batch_transform.delay(transform.id))
    return transform


def transform_create_s3(*, owner, model: RegisteredModel, name: str, input_name: str, total: int) -> BatchTransform:
    """A SageMaker transform job's row (CreateTransformJob; what it reads is kept by webapp/sagemaker), queued once
    the caller's transaction commits. A model still validating is taken: the worker's loading checks it too."""
    if model.state == RegisteredModel.State.INVALID:
        raise ServiceError(f"model {model.name} is invalid: {model.reason}", "model")
    transform = BatchTransform.objects.create(owner=owner, model=model, name=name, kind=BatchTransform.Kind.S3,
                                              input_name=input_name[:255], directory="", total=total)
    transform.directory = media.transform_relative(owner.id, transform.id)
    transform.save(update_fields=["directory"])
    from webapp.registry.tasks import batch_transform

    transaction.on_commit(lambda: batch_transform.delay(transform.id))
    return transform


def transform_cancel(*, transform: BatchTransform) -> BatchTransform:
    """A queued transform is cancelled at once; a running one stops after the batch it is on (its worker
    looks between batches: webapp/registry/running.py)."""
    if transform.finished_state:
        raise ServiceError(f"the transform has already {transform.state}", "state")
    BatchTransform.objects.filter(id=transform.id).update(cancel_requested=True)
    updated = BatchTransform.objects.filter(id=transform.id, state=BatchTransform.State.QUEUED).update(
        state=BatchTransform.State.CANCELLED, reason="cancelled before it started", finished=timezone.now())
    transform.refresh_from_db()
    if updated:
        notify(transform.owner_id, transform.notice())
    return transform


def transforms_requeue_stale() -> list[int]:
    """Running transforms whose worker stopped beating go back to the queue, to continue after their
    last written line (or fail past WORK_MAX_ATTEMPTS)."""
    return requeue_stale(TRANSFORMS, resuming="continuing after the last line written",
                         on_change=lambda row, state, reason: notify(
                             row.owner_id, {**row.notice(), "state": state, "reason": reason}))
