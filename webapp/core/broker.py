"""What the broker still holds, read the way kombu's Redis transport stores it.

A waiting message is a JSON string in a list named after its queue (``cpu``; ``cpu\\x06\\x163`` and so
on for priorities); one a worker has taken but not acknowledged is in the ``unacked`` hash (delivery tag
-> ``[message, exchange, routing key]``), with the time it was taken in the ``unacked_index`` sorted set.
Celery puts the task id in each message's ``headers.id``.
"""
from __future__ import annotations

import json
import logging
import time

log = logging.getLogger(__name__)


def _task_id(raw) -> str | None:
    try:
        return json.loads(raw)["headers"]["id"]
    except (ValueError, KeyError, TypeError):
        return None


def held_task_ids(app, queues: set[str], *, taken_within: float) -> set[str] | None:
    """Ids of the task messages waiting in ``queues`` or taken by a worker less than ``taken_within``
    seconds ago (one taken longer ago whose row is still queued was taken by a worker that died before
    it claimed the row: the broker gives it back only after its visibility timeout, hours later).
    None when the broker is not Redis, so nothing can be said."""
    with app.connection_for_read() as connection:
        if connection.transport.driver_type != "redis":
            return None
        channel = connection.default_channel
        keys = sorted({channel._q_for_pri(queue, step) for queue in queues for step in channel.priority_steps})
        with channel.client.pipeline(transaction=True) as pipe:  # one snapshot: no message seen in neither
            for key in keys:
                pipe.lrange(key, 0, -1)
            pipe.hgetall(channel.unacked_key)
            pipe.zrange(channel.unacked_index_key, 0, -1, withscores=True)
            *waiting, unacked, index = pipe.execute()
    held = {_task_id(raw) for messages in waiting for raw in messages}
    taken_at = {tag.decode() if isinstance(tag, bytes) else tag: score for tag, score in index}
    recent = time.time() - taken_within
    for tag, value in unacked.items():
        tag = tag.decode() if isinstance(tag, bytes) else tag
        if taken_at.get(tag, 0) >= recent:
            try:
                held.add(json.loads(value)[0]["headers"]["id"])
            except (ValueError, KeyError, TypeError, IndexError):
                continue
    held.discard(None)
    return held
