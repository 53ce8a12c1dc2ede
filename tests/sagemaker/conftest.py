"""Fixtures for the SageMaker tests: a real store, IC Studio's ASGI server answering AWS's protocols with the
store's settings, a real Celery worker (tests/conftest.py) and boto3 configured only by environment variables."""
from __future__ import annotations

import pytest

from tests.support.aws import configure_by_environment
from tests.support.databases import TEST_REDIS
from tests.support.web import web_server


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def store_settings(settings, s3_store):
    """This process (and so the worker thread) on the test store."""
    store = s3_store.store
    settings.S3_ENDPOINT_URL, settings.S3_ACCESS_KEY_ID = store.endpoint_url, store.access_key_id
    settings.S3_SECRET_ACCESS_KEY, settings.S3_REGION = store.secret_access_key, store.region
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [{"address": TEST_REDIS, "socket_timeout": None}]}}}
    return store


@pytest.fixture
def studio(settings, media, transactional_db, store_settings, s3_store):
    """IC Studio's real ASGI server (uvicorn) on the test database and the test store, as the launcher sets it."""
    with web_server(settings, media, env=s3_store.settings_for_children()) as url:
        yield url


@pytest.fixture
def as_user(monkeypatch, studio):
    """``as_user(user)``: boto3 configured for that user by environment variables alone, as the account page says."""
    def configure(user):
        configure_by_environment(monkeypatch, user, studio)
        return user
    return configure


@pytest.fixture
def serving_worker(worker, settings):
    """A real serving worker (a thread of this process) on the test Redis, with no endpoint left wanted by an
    earlier test."""
    import threading

    from webapp.registry.serving_queues import LOAD_FAILED, QUEUE, WANTED
    from workers.serving_worker import ServingWorker

    settings.REDIS_URL = TEST_REDIS
    serving = ServingWorker(TEST_REDIS, memory_bytes=512 << 20, window=0.005)
    serving.redis.delete(QUEUE, WANTED, LOAD_FAILED)
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    yield serving
    serving.stop()
    thread.join(timeout=10)
