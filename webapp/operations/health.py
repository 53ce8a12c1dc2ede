"""What the health page checks: the database, Redis, the workers and their GPUs, the disks and the S3 store.

Each check answers within about a second and says what is wrong instead of raising. The page is for
staff, and even they see folders by their role ("media", "model store"), never a server path.
"""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from webapp.core.worker_beats import beats
from webapp.registry.serving_queues import waiting as serving_waiting
from webapp.registry.serving_queues import WORKER_PREFIX as SERVING_PREFIX

DISK_LOW_FRACTION = 0.05
_ANY_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.@+-]+/)*[\w.@+-]+")


def _places() -> dict[str, Path]:
    """The folders IC Studio writes, by role."""
    return {"media": Path(settings.MEDIA_ROOT), "model store": Path(settings.MODEL_STORE),
            "state folder": Path(settings.VAR_DIR)}


def _without_paths(text: str) -> str:
    """``text`` with each known folder named by its role and any other absolute path left out."""
    roots = {str(path.resolve()): role for role, path in _places().items()}
    roots.update({str(path): role for role, path in _places().items()})
    for root in sorted(roots, key=len, reverse=True):
        text = text.replace(root, f"<{roots[root]}>")
    return _ANY_PATH.sub("<a server path>", text)


def _timed(check):
    started = time.perf_counter()
    try:
        result = {"ok": True, **check()}
    except Exception as error:  # a health check reports, it does not fail
        result = {"ok": False, "error": _without_paths(f"{type(error).__name__}: {error}")}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def database() -> dict:
    def check():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        name = str(connection.settings_dict["NAME"])
        # SQLite's NAME is a file's path: its name is enough to tell which database.
        return {"vendor": connection.vendor, "name": Path(name).name if connection.vendor == "sqlite" else name}
    return _timed(check)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def redis_server() -> dict:
    def check():
        client = _redis()
        client.ping()
        info = client.info()
        return {"version": info.get("redis_version"), "used_memory": info.get("used_memory_human"),
                "training_queue": client.llen("gpu"), "cpu_queue": client.llen("cpu"),
                "serving_queue": serving_waiting(client)}
    return _timed(check)


def workers() -> dict:
    def check():
        client = _redis()
        celery = beats(client)
        serving = beats(client, SERVING_PREFIX)
        names = _model_names()
        for beat in serving.values():  # a serving worker names its warm models by their artifact's path
            beat["models"] = [names.get(path, "a model no longer in the registry") for path in beat.get("models", [])]
        queues = {queue for beat in celery.values() for queue in beat.get("queues", [])}
        missing = [queue for queue in ("cpu", "gpu") if queue not in queues]
        result = {"celery": celery, "serving": serving, "missing_queues": missing}
        if missing or not serving:
            result["ok"] = False
            result["error"] = "; ".join(
                [f"no worker consumes the {queue} queue" for queue in missing]
                + ([] if serving else ["no serving worker: real-time prediction is down"]))
        return result
    return _timed(check)


def _model_names() -> dict[str, str]:
    from webapp.registry.models import RegisteredModel

    media = Path(settings.MEDIA_ROOT).resolve()
    return {str(media / artifact): name for artifact, name in RegisteredModel.objects.values_list("artifact", "name")}


def _existing(path: Path) -> Path:
    """The folder itself, or the nearest one above it that exists (a fresh model store is not made yet)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def disks() -> dict:
    def check():
        result = {}
        low = []
        for role, path in _places().items():
            usage = shutil.disk_usage(_existing(path))
            result[role] = {"total": usage.total, "used": usage.used, "free": usage.free}
            if usage.free < DISK_LOW_FRACTION * usage.total:
                low.append(f"the {role} has {usage.free >> 20} MB free")
        if low:
            return {"places": result, "ok": False, "error": "low on disk: " + ", ".join(low)}
        return {"places": result}
    return _timed(check)


def object_store() -> dict:
    """The S3 store, by its endpoint without credentials; not configured (a process outside the launcher and
    compose) is said, and does not count against the report."""
    from webapp.core.object_store import Store, answers

    store = Store.from_settings()
    described = {"endpoint": store.shown_endpoint, "embedded": store.embedded, "configured": bool(store.endpoint_url)}
    if not store.endpoint_url:
        return {"ok": True, "ms": 0.0, **described}

    def check():
        return {**described, "buckets": len(answers(store, timeout=1))}
    result = _timed(check)
    if "error" in result:  # an endpoint given as https://key:secret@host must not show its secret
        result["error"] = re.sub(r"//[^/@\s]+@", "//", result["error"])
    return {**described, **result}


def report() -> dict:
    checks = {"database": database(), "redis": redis_server(), "workers": workers(), "disk": disks(),
              "s3": object_store()}
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}
