"""A serving worker outlives a Redis restart: it waits for Redis to come back and beats again, instead of
exiting on the first connection error (the launcher restarts a dead Redis on the same port)."""
from __future__ import annotations

import socket
import subprocess
import threading
import time

import redis

from tests.support.waiting import wait_until
from webapp.launch import redis_server_binary
from workers.serving_worker import ServingWorker
from webapp.registry.serving_queues import WORKER_PREFIX


def _redis_on(port: int) -> subprocess.Popen:
    server = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    wait_until(lambda: _answers(port), "redis-server to listen", timeout=30, step=0.1)
    return server


def _answers(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_timeout=1).ping()
    except redis.ConnectionError:
        return False


def test_the_serving_worker_waits_out_a_redis_restart_and_beats_again():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _redis_on(port)
    worker = ServingWorker(f"redis://127.0.0.1:{port}/0", memory_bytes=64 << 20, name="reconnecting")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: redis.Redis(port=port).exists(WORKER_PREFIX + "reconnecting"), "the first heartbeat",
                   timeout=30, step=0.1)
        server.terminate()
        server.wait(timeout=10)
        time.sleep(1.5)  # long enough for the worker's next request to fail
        assert thread.is_alive()
        server = _redis_on(port)  # a new, empty Redis: only a live worker beats into it
        wait_until(lambda: redis.Redis(port=port).exists(WORKER_PREFIX + "reconnecting"),
                   "a heartbeat after the restart", timeout=30, step=0.1)
        assert thread.is_alive()
    finally:
        worker.stop()
        thread.join(timeout=10)
        server.terminate()
        server.wait(timeout=10)
