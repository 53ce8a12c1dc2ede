"""Fixtures for the web app: users, API clients, media in a temporary folder, a real web server and serving
worker, headless Chromium. The Celery worker and the trained colour model are in tests/conftest.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.api import api_client
from tests.support.browser import CHROMIUM
from tests.support.databases import TEST_REDIS
from tests.support.web import web_server


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def api(alice):
    return api_client(alice)


@pytest.fixture
def bob_api(bob):
    return api_client(bob)


@pytest.fixture
def dataset(api):
    return api.post("/api/datasets/", {"name": "pets"}, format="json").json()


@pytest.fixture(scope="session")
def celery_config():
    return {"broker_url": TEST_REDIS, "result_backend": TEST_REDIS}


@pytest.fixture
def channel_layer_redis(settings):
    """The Channels layer on the test Redis, for the worker's live messages."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [{"address": TEST_REDIS, "socket_timeout": None}]}}}


@pytest.fixture
def asgi_server_tls():
    """Whether ``asgi_server`` serves HTTPS (a self-signed certificate, ``<tmp_path>/cert.pem``); a test
    parametrizes this to True."""
    return False


@pytest.fixture
def asgi_server(settings, media, transactional_db, asgi_server_tls):
    """The real ASGI server (uvicorn: HTTP and WebSockets) on the test database, in a process of its own."""
    tls = None
    if asgi_server_tls:
        from tests.support.s3 import self_signed_certificate

        tls = self_signed_certificate(Path(media).parent)
    with web_server(settings, media, tls=tls) as url:
        yield url


@pytest.fixture
def serving(worker, settings):
    """A real serving worker (a thread of this process) on the test Redis."""
    import threading

    from workers.serving_worker import ServingWorker
    from webapp.registry.serving_queues import QUEUE

    settings.REDIS_URL = TEST_REDIS
    serving_worker = ServingWorker(TEST_REDIS, memory_bytes=512 << 20, window=0.005)
    serving_worker.redis.delete(QUEUE)
    thread = threading.Thread(target=serving_worker.run, daemon=True)
    thread.start()
    yield serving_worker
    serving_worker.stop()
    thread.join(timeout=10)


@pytest.fixture
def page(monkeypatch):
    """A headless Chromium page (the machine's own Chromium, never a downloaded one)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Chromium for the browser tests (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls here stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync",
            # A webcam that shows a test pattern, and no permission prompt for it.
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20000)
        yield page
        browser.close()
