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


def api_key(user) -> str:
    """A working API token for ``user`` (one per user object: a test asking twice gets the same one)."""
    from webapp.accounts.services import api_key_create

    if not hasattr(user, "_test_api_key"):
        user._test_api_key = api_key_create(user=user, name="tests")[1]
    return user._test_api_key


def _client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(user)}")
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

    from celery.contrib.testing.worker import test_worker_started
    from celery.signals import worker_ready

    from workers import presence

    def ready(sender, worker, consumer, **_):  # what `celery worker` sends and the test harness does not
        worker_ready.send(sender=consumer)

    app.conf.update(broker_url=TEST_REDIS, result_backend=TEST_REDIS)
    with app.pool.acquire(block=True) as connection:
        connection.default_channel.client.flushdb()
    test_worker_started.connect(ready, weak=False)
    try:
        with start_worker(app, queues=["cpu", "gpu"], perform_ping_check=False, pool="solo", shutdown_timeout=30):
            yield app
    finally:
        test_worker_started.disconnect(ready)
        presence.stop()


@pytest.fixture
def channel_layer_redis(settings):
    """The Channels layer on the test Redis, for the worker's live messages."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [{"address": TEST_REDIS, "socket_timeout": None}]}}}


COLOURS = {"red": (220, 40, 40), "blue": (40, 40, 220), "green": (40, 200, 40)}


def colour_version(api, *, classes=("red", "blue"), per_class=24, train_ratio=0.75, timeout=120) -> int:
    """Upload a small colour dataset, split it, freeze it, and wait for a worker to build it."""
    files = {f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
             for name in classes for i in range(per_class)}
    return built_version(api, files, name="colours", train_ratio=train_ratio, timeout=timeout)


def built_version(api, files: dict[str, bytes], *, name: str, train_ratio: float, timeout: float = 120) -> int:
    """A dataset of ``files`` (class folders in their names), split, frozen and built by a worker."""
    import time

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


def _database_url(database: dict) -> str:
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    user = database.get("USER") or "postgres"
    return f"postgres://{user}@{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}/{database['NAME']}"


@pytest.fixture
def asgi_server(settings, media, transactional_db):
    """The real ASGI server (uvicorn: HTTP and WebSockets) on the test database, in a process of its own."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": _database_url(settings.DATABASES["default"]), "MEDIA_ROOT": str(media),
           "REDIS_URL": TEST_REDIS}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "webapp.config.asgi:application", "--port", str(port),
                               "--no-access-log"], cwd=Path(__file__).resolve().parents[2], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture
def serving(worker, settings):
    """A real serving worker (a thread of this process) on the test Redis."""
    import threading

    from workers.serving import ServingWorker
    from workers.serving_protocol import QUEUE

    settings.REDIS_URL = TEST_REDIS
    serving_worker = ServingWorker(TEST_REDIS, memory_bytes=512 << 20, window=0.005)
    serving_worker.redis.delete(QUEUE)
    thread = threading.Thread(target=serving_worker.run, daemon=True)
    thread.start()
    yield serving_worker
    serving_worker.stop()
    thread.join(timeout=10)


COLOUR_CLASSES = ["red", "green", "blue"]


@pytest.fixture(scope="session")
def colour_artifact(tmp_path_factory):
    """A ResNet-20 telling red, green and blue squares apart, trained once by the library."""
    from classifier.hyperparameters import parse_hyperparameters
    from classifier.training import train
    from tests.classifier.synthetic import write_colours

    root = tmp_path_factory.mktemp("colour-model")
    hp = parse_hyperparameters({"num_classes": "3", "num_training_samples": "96", "num_layers": "20",
                                "image_shape": "3,32,32", "epochs": "4", "mini_batch_size": "16",
                                "learning_rate": "0.05"})
    result = train(hp, train_rec=write_colours(root / "train.rec", 96, seed=1),
                   validation_rec=write_colours(root / "val.rec", 48, seed=2), model_dir=root / "model",
                   class_names=COLOUR_CLASSES)
    assert result.metrics["validation:accuracy"] >= 0.9, result.metrics
    return result.artifact


def colour_jpeg(label: int, seed: int = 0, size: int = 32) -> bytes:
    from tests.classifier.synthetic import colour_image, jpeg

    return jpeg(colour_image(np.random.default_rng(seed), label, size))


def import_model(api, artifact, name: str = "colours", timeout: float = 60) -> dict:
    """POST a model.tar.gz to the registry and wait for a worker to find it ready."""
    import time

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
