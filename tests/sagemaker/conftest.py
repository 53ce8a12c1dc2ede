"""Fixtures for the SageMaker tests: a real store, IC Studio's ASGI server answering AWS's protocols with the
store's settings, a real Celery worker (tests/conftest.py) and boto3 configured only by environment variables."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.support import REPO
from tests.support.aws import aws_environment
from tests.support.databases import TEST_REDIS, database_url


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
def studio(settings, media, transactional_db, store_settings):
    """IC Studio's real ASGI server (uvicorn) on the test database and the test store."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = store_settings
    env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]), "MEDIA_ROOT": str(media),
           "REDIS_URL": TEST_REDIS, "S3_ENDPOINT_URL": store.endpoint_url, "S3_ACCESS_KEY_ID": store.access_key_id,
           "S3_SECRET_ACCESS_KEY": store.secret_access_key, "S3_REGION": store.region}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "webapp.config.asgi:application", "--port", str(port),
                               "--no-access-log"], cwd=REPO, env=env)
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
def as_user(monkeypatch, studio):
    """``as_user(user)``: boto3 configured for that user by environment variables alone, as the account page says."""
    import boto3

    def configure(user):
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # the next client reads the environment afresh
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        for name, value in aws_environment(user, studio).items():
            monkeypatch.setenv(name, value)
        return user
    return configure
