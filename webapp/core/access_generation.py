"""What a web process remembers of who may do what, and when it must stop believing it.

The S3 front checks every request's access key, and who owns its bucket, before a byte moves; a download
is a run of 8 MB ranged GETs, and reading those rows from the database for each (and the hop to the
database thread) was a third of the web server's CPU per GB moved (measured with py-spy on
benchmarks/control_plane.py). So a process keeps what it read, marked with the *access generation*: a
random token in Redis that every committed change to users, access keys and buckets replaces. A
remembered row is used only while the token it was read under is still Redis's, so a revoked key, a
deactivated user or a bucket that changed hands is refused by every web process from its next request.

The token is random rather than a counter: a Redis that restarts empty starts a new token, never one an
old entry was marked with. When Redis does not answer nothing remembered is used (the database is read, as
before); and nothing is kept longer than REMEMBER_SECONDS, which bounds how long a change made while Redis
was unreachable (its bump lost) can go unseen.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.db import transaction

KEY = "icstudio:access-generation"
REMEMBER_SECONDS = 60.0
REMEMBERED_ROWS = 4096
# After Redis fails to answer, this long without asking it again: every request reads the database.
RETRY_SECONDS = 1.0
_TIMEOUT_SECONDS = 1.0

log = logging.getLogger(__name__)
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_sync_clients: dict[str, redis.Redis] = {}
_unanswered_until = 0.0

Value = TypeVar("Value")


def _async_client() -> aioredis.Redis:
    # A connection pool belongs to one event loop (tests may run several), and to one REDIS_URL.
    by_url = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = by_url.get(settings.REDIS_URL)
    if client is None:
        client = by_url[settings.REDIS_URL] = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS)
    return client


def _sync_client() -> redis.Redis:
    client = _sync_clients.get(settings.REDIS_URL)
    if client is None:
        client = _sync_clients[settings.REDIS_URL] = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS)
    return client


async def current() -> bytes | None:
    """The token now, or None when Redis does not answer (then nothing remembered may be used)."""
    global _unanswered_until
    if time.monotonic() < _unanswered_until:
        return None
    client = _async_client()
    try:
        token = await client.get(KEY)
        if token is None:  # a new Redis, or one emptied: start a token no entry was marked with
            await client.set(KEY, secrets.token_hex(16), nx=True)
            token = await client.get(KEY)
        return token
    except (redis.RedisError, OSError) as error:
        _unanswered_until = time.monotonic() + RETRY_SECONDS
        log.warning("Redis did not answer for the access generation (%s): reading the database instead", error)
        return None


def _bump() -> None:
    try:
        _sync_client().set(KEY, secrets.token_hex(16))
    except (redis.RedisError, OSError) as error:
        # The change is in the database; processes see it when their entries age out (REMEMBER_SECONDS).
        log.warning("could not tell the web processes of a change to access (%s): they see it within %.0f s",
                    error, REMEMBER_SECONDS)


def bump_on_commit() -> None:
    """Replace the token once the current transaction commits (at once outside one). Not before: a
    process reading the old rows in between would mark them with the new token."""
    transaction.on_commit(_bump)


def _bump_for_change(sender, **_) -> None:
    bump_on_commit()


def watch(model) -> None:
    """Bump on every save and delete of ``model``'s rows (cascaded deletes included: Django sends their
    signals). QuerySet.update sends none: its callers bump themselves."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_bump_for_change, sender=model, weak=False, dispatch_uid=f"access-generation-save-{model}")
    post_delete.connect(_bump_for_change, sender=model, weak=False, dispatch_uid=f"access-generation-del-{model}")


class Remembered(Generic[Value]):
    """Rows by key, each good while the token it was read under stands and for REMEMBER_SECONDS at most;
    the least recently used go first past REMEMBERED_ROWS. Locked: a process may run several event loops."""

    def __init__(self, size: int = REMEMBERED_ROWS):
        self._size = size
        self._rows: OrderedDict[Hashable, tuple[bytes, float, Value]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, token: bytes | None) -> Value | None:
        if token is None:
            return None
        with self._lock:
            found = self._rows.get(key)
            if found is None:
                return None
            marked, read_at, value = found
            if marked != token or time.monotonic() - read_at > REMEMBER_SECONDS:
                del self._rows[key]
                return None
            self._rows.move_to_end(key)
            return value

    def put(self, key: Hashable, token: bytes | None, value: Value) -> None:
        """``token``: the one read *before* the row was (a change in between then leaves it unused)."""
        if token is None:
            return
        with self._lock:
            self._rows[key] = (token, time.monotonic(), value)
            self._rows.move_to_end(key)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)
