"""Each Celery worker says, every few seconds, that it is alive, what it consumes and which GPUs it has.

The health page and the training presets read these beats from Redis (webapp/core/worker_beats.py).
GPUs are listed with ``nvidia-smi`` rather than MXNet:
asking CUDA in the worker's parent process would break CUDA in the pool processes it forks.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading

from celery.signals import worker_ready, worker_shutdown

from webapp.core.worker_beats import PREFIX

BEAT_SECONDS = 10
_stop = threading.Event()


def gpus() -> list[dict]:
    """index, name and memory of each GPU this machine shows, or [] without NVIDIA's tools."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,name,memory.used,memory.total,utilization.gpu",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in out.strip().splitlines():
        index, name, used, total, utilization = [part.strip() for part in line.split(",")]
        found.append({"index": int(index), "name": name, "memory_used_mb": int(used), "memory_total_mb": int(total),
                      "utilization": int(utilization)})
    return found


def _beat(consumer) -> None:
    app = consumer.app
    hostname = consumer.hostname or socket.gethostname()
    queues = sorted(queue.name for queue in consumer.task_consumer.queues) if consumer.task_consumer else []
    with app.pool.acquire(block=True) as connection:
        client = connection.default_channel.client
        while not _stop.is_set():
            beat = {"hostname": hostname, "queues": queues, "gpus": gpus(),
                    "concurrency": getattr(consumer.controller, "concurrency", None)}
            client.set(PREFIX + hostname, json.dumps(beat), ex=3 * BEAT_SECONDS)
            _stop.wait(BEAT_SECONDS)
        client.delete(PREFIX + hostname)


@worker_ready.connect
def _start(sender=None, **_) -> None:
    _stop.clear()
    threading.Thread(target=_beat, args=(sender,), name="presence", daemon=True).start()


@worker_shutdown.connect
def stop(**_) -> None:
    _stop.set()
