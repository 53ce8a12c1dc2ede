"""Live sockets left idle stay open: a page watching a queued job, or the notices every page holds,
must still be connected and still hear news after a quiet minute (redis-py's 5 s socket timeout used
to cut the channel layer's blocking read, closing each socket within seconds with a traceback)."""
from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import pytest
import websockets
from celery.contrib.testing.worker import start_worker
from django.test import Client

from tests.support.api import api_key, colour_version
from tests.support.databases import TEST_REDIS

pytestmark = pytest.mark.django_db(transaction=True)
IDLE_SECONDS = 60


@pytest.fixture
def logged_server(request, tmp_path):
    """The asgi_server fixture's uvicorn, with what it prints (stdout and stderr) kept in a file."""
    log = tmp_path / "server.log"
    saved = os.dup(1), os.dup(2)
    with log.open("w") as sink:  # the server inherits these descriptors; this process gets its own back
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            url = request.getfixturevalue("asgi_server")
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    return url, log


def _post(base: str, path: str, token: str, payload: dict) -> dict:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(payload).encode(), method="POST",
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _queued_job(api, base: str, token: str) -> int:
    """A job that stays queued: its version is built by a cpu worker, and no worker takes training."""
    from workers.celery import app

    app.conf.update(broker_url=TEST_REDIS, result_backend=TEST_REDIS)
    with app.pool.acquire(block=True) as connection:
        connection.default_channel.client.flushdb()
    with start_worker(app, queues=["cpu"], perform_ping_check=False, pool="solo", shutdown_timeout=30):
        version = colour_version(api)
    job = _post(base, "/api/jobs/", token, {"version": version, "hyperparameters": {
        "num_layers": "20", "image_shape": "3,32,32", "epochs": "2", "mini_batch_size": "8"}})
    assert job["state"] == "queued", job
    return job["id"]


async def _first_cancelled(socket) -> dict:
    """The socket's first message that says the job was cancelled (a job's page replays its history first)."""
    async with asyncio.timeout(10):
        while (message := json.loads(await socket.recv())).get("state") != "cancelled":
            pass
    return message


async def _hold_idle_then_cancel(base: str, session: str, job_id: int, token: str) -> tuple[dict, dict]:
    ws_base = base.replace("http://", "ws://")
    # Like a browser: the session cookie, the page's origin, and no pings of the client's own.
    options = {"additional_headers": {"Cookie": f"sessionid={session}", "Origin": base}, "ping_interval": None}
    async with websockets.connect(f"{ws_base}/ws/notices/", **options) as notices, \
            websockets.connect(f"{ws_base}/ws/jobs/{job_id}/", **options) as job_socket:
        await asyncio.sleep(IDLE_SECONDS)
        await asyncio.to_thread(_post, base, f"/api/jobs/{job_id}/cancel/", token, {})
        return await _first_cancelled(job_socket), await _first_cancelled(notices)


def test_idle_job_and_notice_sockets_stay_open_and_still_deliver(logged_server, api, alice):
    asgi_server, log = logged_server
    token = api_key(alice)
    job_id = _queued_job(api, asgi_server, token)
    browser = Client()
    browser.force_login(alice)
    assert "Uvicorn running on" in log.read_text()  # the log does hold what the server prints

    job_message, notice = asyncio.run(_hold_idle_then_cancel(asgi_server, browser.cookies["sessionid"].value,
                                                             job_id, token))

    assert job_message["type"] == "state"
    assert notice["type"] == "job" and notice["job"] == job_id
    logged = log.read_text()
    assert "Traceback" not in logged and "TimeoutError" not in logged, logged
