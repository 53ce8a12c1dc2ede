"""The web process's side of serving: hand one image to the serving workers and await its answer.

Async all the way (redis.asyncio), so a request waiting on a worker holds no thread and many
requests can be in flight together, which is what lets the worker batch them.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
import weakref
from dataclasses import dataclass

import redis.asyncio as aioredis
from django.conf import settings

from webapp.registry.serving_queues import ENQUEUE, TURNS, WORKER_PREFIX, Request, queue_key, reply_key

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class ServingUnavailable(Exception):
    """No serving worker answered in time."""


@dataclass
class Reply:
    probabilities: list[float] | None
    error: str | None
    kind: str
    model_ms: float
    batch_size: int
    worker: str


def _client() -> aioredis.Redis:
    # A connection pool belongs to one event loop; tests and management commands may run several.
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # redis-py's default 5 s socket timeout would cut a BLPOP short while a worker loads a model.
        client = _clients[loop] = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=settings.SERVING_TIMEOUT_SECONDS + 5)
    return client


async def predict(artifact: str, image: bytes, *, owner: str = "", timeout: float | None = None) -> Reply:
    """Probabilities for ``image`` from the model at ``artifact`` (an absolute path), queued in ``owner``'s turn."""
    timeout = timeout or settings.SERVING_TIMEOUT_SECONDS
    client = _client()
    if not await _any_worker(client):
        raise ServingUnavailable("no serving worker is running; start one with `python -m workers.serving_worker`")
    request = Request(id=uuid.uuid4().hex, artifact=artifact, deadline=time.time() + timeout, image=image, owner=owner)
    raw = request.encode()
    await client.eval(ENQUEUE, 2, queue_key(owner), TURNS, raw, owner)
    got = await client.blpop([reply_key(request.id)], timeout=timeout)
    if got is None:
        await client.lrem(queue_key(owner), 1, raw)  # still queued: no worker is there to take it
        raise ServingUnavailable(f"no serving worker answered within {timeout:g} s; "
                                 "start one with `python -m workers.serving_worker`")
    return Reply(**json.loads(got[1]))


_seen_worker_at = 0.0


async def _any_worker(client: aioredis.Redis) -> bool:
    """Whether a serving worker has beaten lately; a yes is trusted for a second, to spare Redis a scan."""
    global _seen_worker_at
    if time.monotonic() - _seen_worker_at < 1.0:
        return True
    async for _ in client.scan_iter(match=WORKER_PREFIX + "*", count=1000):
        _seen_worker_at = time.monotonic()
        return True
    return False


async def workers() -> dict[str, dict]:
    """The serving workers alive now (their heartbeats), by name."""
    client = _client()
    found = {}
    async for key in client.scan_iter(match=WORKER_PREFIX + "*", count=100):
        value = await client.get(key)
        if value:
            found[key.decode()[len(WORKER_PREFIX):]] = json.loads(value)
    return found
