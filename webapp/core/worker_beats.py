"""Reading the presence beats that workers keep in Redis (workers/presence.py writes the Celery workers'
ones, workers/serving_worker.py the serving workers'). No Django import: the workers import ``PREFIX`` from here."""
from __future__ import annotations

import json

PREFIX = "icstudio:worker:"


def beats(client, prefix: str = PREFIX) -> dict[str, dict]:
    """The live beats under ``prefix`` (a Redis client's keys), by worker name."""
    found = {}
    for key in client.scan_iter(match=prefix + "*", count=500):
        value = client.get(key)
        if value:
            found[key.decode()[len(prefix):]] = json.loads(value)
    return found
