"""Where everything lives under MEDIA_ROOT, in one place.

The database keeps paths relative to MEDIA_ROOT (``DatasetVersion.directory``, ``Image.stored``, a model's
``artifact``...), so the media folder can move; ``absolute`` turns one into a file and ``relative`` back.
The layout is what existing state folders hold, so it must not change without a data migration:

    datasets/<dataset id>/images/<sha256[:2]>/<sha256>.<jpg|png>   an uploaded image, as stored
    datasets/<dataset id>/thumbs/<sha256[:2]>/<sha256>.jpg         its thumbnail
    datasets/<dataset id>/versions/<number>/                       a frozen version's .lst/.rec/.idx, images.zip
    jobs/<job id>/                                                 a training job's work/ and model
    models/<owner id>/<random>/model.tar.gz                        an imported model
    uploads/<owner id>/models/<random>/model.tar.gz                a base model for incremental training
    transforms/<owner id>/<transform id>/                          a batch transform's input.* and output
    endpoints/<owner id>/<endpoint id>/model-<model id>.tar.gz      the model an endpoint serves, its own link
"""
from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

ARTIFACT_NAME = "model.tar.gz"
BASE_MODEL_UPLOADS = f"uploads/*/models/*/{ARTIFACT_NAME}"  # a glob under MEDIA_ROOT: every kept base model


def root() -> Path:
    return Path(settings.MEDIA_ROOT)


def absolute(relative: str) -> Path:
    """The file or folder a stored relative path names."""
    return root() / relative


def relative(path: Path) -> str:
    """``path``, under MEDIA_ROOT, as the database keeps it."""
    return Path(path).relative_to(root()).as_posix()


def dataset_relative(dataset_id: int) -> str:
    return f"datasets/{dataset_id}"


def dataset_dir(dataset_id: int) -> Path:
    return absolute(dataset_relative(dataset_id))


def image_relatives(dataset_id: int, sha256: str, extension: str) -> tuple[str, str]:
    """Where an image (``extension`` with its dot) and its thumbnail are kept: by content, so the same
    bytes are one file."""
    base = dataset_relative(dataset_id)
    return f"{base}/images/{sha256[:2]}/{sha256}{extension}", f"{base}/thumbs/{sha256[:2]}/{sha256}.jpg"


def version_relative(dataset_id: int, number: int) -> str:
    return f"{dataset_relative(dataset_id)}/versions/{number}"


def version_dir(version) -> Path:
    return absolute(version.directory)


def job_relative(job_id: int) -> str:
    return f"jobs/{job_id}"


def job_dir(job) -> Path:
    return absolute(job.directory)


def job_work_dir(job) -> Path:
    """Checkpoints and scratch files of a training job, deleted by cleanup once it is long finished."""
    return job_dir(job) / "work"


def new_model_relative(owner_id: int) -> str:
    """A fresh place for an imported model's artifact."""
    return f"models/{owner_id}/{uuid.uuid4().hex}/{ARTIFACT_NAME}"


def new_base_model_relative(owner_id: int) -> str:
    """A fresh place for an uploaded base model of incremental training."""
    return f"uploads/{owner_id}/models/{uuid.uuid4().hex}/{ARTIFACT_NAME}"


def artifact_path(model) -> Path:
    """A registered model's (or a finished job's) model.tar.gz."""
    return absolute(model.artifact)


def endpoint_dir(endpoint) -> Path:
    return absolute(f"endpoints/{endpoint.owner_id}/{endpoint.id}")


def endpoint_artifact_relative(endpoint, model_id: int) -> str:
    """An endpoint's own link to a model's file: deleting the model (DeleteModel) leaves the endpoint serving,
    as on AWS, where an endpoint's instances hold their own copy."""
    return f"endpoints/{endpoint.owner_id}/{endpoint.id}/model-{model_id}.tar.gz"


def transform_relative(owner_id: int, transform_id: int) -> str:
    return f"transforms/{owner_id}/{transform_id}"


def transform_dir(transform) -> Path:
    return absolute(transform.directory)
