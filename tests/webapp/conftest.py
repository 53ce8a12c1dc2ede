"""Fixtures for the web app: users, API clients, media in a temporary folder, a real Celery worker."""
from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

TEST_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def jpeg_bytes(colour=(200, 30, 30), size=(64, 48), seed=0, **save) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(0, 20, (size[1], size[0], 3)) + colour, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


def png_bytes(size=(40, 40), seed=0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="wonderland-42")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="builder-4242")


def _client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(alice):
    return _client(alice)


@pytest.fixture
def bob_api(bob):
    return _client(bob)


@pytest.fixture
def dataset(api):
    return api.post("/api/datasets/", {"name": "pets"}, format="json").json()


def upload(api, dataset_id, files: dict[str, bytes], **extra):
    """POST files to the upload endpoint; names may carry folders (sent as ``paths``)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"files": [SimpleUploadedFile(name.split("/")[-1], data) for name, data in files.items()],
               "paths": list(files), **extra}
    return api.post(f"/api/datasets/{dataset_id}/uploads/", payload, format="multipart")


@pytest.fixture(scope="session")
def celery_config():
    return {"broker_url": TEST_REDIS, "result_backend": TEST_REDIS}


@pytest.fixture
def worker(transactional_db, settings):
    """A real Celery worker (a thread of this process) on a real Redis, consuming the cpu queue."""
    from celery.contrib.testing.worker import start_worker

    from workers.celery import app

    app.conf.update(broker_url=TEST_REDIS, result_backend=TEST_REDIS)
    with app.pool.acquire(block=True) as connection:
        connection.default_channel.client.flushdb()
    with start_worker(app, queues=["cpu", "gpu"], perform_ping_check=False, pool="solo", shutdown_timeout=30):
        yield app


@pytest.fixture
def channel_layer_redis(settings):
    """The Channels layer on the test Redis, for the worker's live messages."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [TEST_REDIS]}}}


COLOURS = {"red": (220, 40, 40), "blue": (40, 40, 220), "green": (40, 200, 40)}


def colour_version(api, *, classes=("red", "blue"), per_class=24, train_ratio=0.75, timeout=120) -> int:
    """Upload a small colour dataset, split it, freeze it, and wait for a worker to build it."""
    import time

    from webapp.datasets.models import DatasetVersion

    dataset = api.post("/api/datasets/", {"name": "colours"}, format="json").json()["id"]
    files = {f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
             for name in classes for i in range(per_class)}
    assert upload(api, dataset, files).json()["accepted"] == len(files)
    api.post(f"/api/datasets/{dataset}/split/", {"train_ratio": train_ratio, "seed": 0}, format="json")
    version = api.post(f"/api/datasets/{dataset}/versions/").json()["id"]
    deadline = time.monotonic() + timeout
    while DatasetVersion.objects.get(id=version).status != "ready":
        assert time.monotonic() < deadline, "the version was not built"
        time.sleep(0.2)
    return version
