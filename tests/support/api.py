"""What a test does through the JSON API: tokens and clients, uploads, versions built by a worker, models
imported into the registry."""
from __future__ import annotations

import time

import numpy as np

from tests.support.images import COLOURS, jpeg_bytes


def api_key(user) -> str:
    """A working API token for ``user`` (one per user object: a test asking twice gets the same one)."""
    from webapp.accounts.services import api_key_create

    if not hasattr(user, "_test_api_key"):
        user._test_api_key = api_key_create(user=user, name="tests")[1]
    return user._test_api_key


def api_client(user):
    """DRF's test client, signed in as ``user`` with its API token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user)}")
    return client


def upload(api, dataset_id, files: dict[str, bytes], **extra):
    """POST files to the upload endpoint; names may carry folders (sent as ``paths``)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"files": [SimpleUploadedFile(name.split("/")[-1], data) for name, data in files.items()],
               "paths": list(files), **extra}
    return api.post(f"/api/datasets/{dataset_id}/uploads/", payload, format="multipart")


def built_version(api, files: dict[str, bytes], *, name: str, train_ratio: float, timeout: float = 120) -> int:
    """A dataset of ``files`` (class folders in their names), split, frozen and built by a worker."""
    from webapp.datasets.models import DatasetVersion

    dataset = api.post("/api/datasets/", {"name": name}, format="json").json()["id"]
    assert upload(api, dataset, files).json()["accepted"] == len(files)
    api.post(f"/api/datasets/{dataset}/split/", {"train_ratio": train_ratio, "seed": 0}, format="json")
    version = api.post(f"/api/datasets/{dataset}/versions/").json()["id"]
    deadline = time.monotonic() + timeout
    while DatasetVersion.objects.get(id=version).status != "ready":
        assert time.monotonic() < deadline, "the version was not built"
        time.sleep(0.2)
    return version


def colour_version(api, *, classes=("red", "blue"), per_class=24, train_ratio=0.75, timeout=120) -> int:
    """Upload a small colour dataset, split it, freeze it, and wait for a worker to build it."""
    files = {f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
             for name in classes for i in range(per_class)}
    return built_version(api, files, name="colours", train_ratio=train_ratio, timeout=timeout)


def photo_version(api, *, per_class: int = 10, size: int = 96, timeout: float = 120) -> int:
    """A ready version of photo-like crops of four classes, ``size`` px square, split 80/20."""
    from tests.webapp.photo_crops import CLASSES, crop, jpeg

    rng = np.random.default_rng(0)
    files = {}
    for label, name in enumerate(CLASSES):
        for i in range(per_class):
            image = crop(label, rng)
            files[f"{name}/{name}-{i}.jpg"] = jpeg(image if size == 96 else image.resize((size, size)))
    return built_version(api, files, name="crops", train_ratio=0.8, timeout=timeout)


def import_model(api, artifact, name: str = "colours", timeout: float = 60) -> dict:
    """POST a model.tar.gz to the registry and wait for a worker to find it ready."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api.post("/api/models/", {"artifact": SimpleUploadedFile("model.tar.gz", artifact.read_bytes()),
                                         "name": name}, format="multipart")
    assert response.status_code == 201, response.json()
    model = response.json()
    deadline = time.monotonic() + timeout
    while model["state"] == "validating":
        assert time.monotonic() < deadline, "the import was not validated"
        time.sleep(0.2)
        model = api.get(f"/api/models/{model['id']}/").json()
    return model
