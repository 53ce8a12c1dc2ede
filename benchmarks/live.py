"""The live metrics path, measured end to end on this machine.

1. Latency from the worker's batch end (the recorder receiving ``BatchEnd``) to the browser's WebSocket
   message: the ASGI server (uvicorn) in its own process, a WebSocket client signed in as the job's
   owner, the Redis channel layer between them; p50 and p95.
2. Training images/s of ``classifier.training.train`` with the dashboard streaming (the recorder storing
   and publishing every event, a client connected) against the library alone on the same .rec.
   Target ratio >= 0.95.

    python benchmarks/live.py [--events 300] [--images 1024] [--epochs 3]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.processes import free_port  # noqa: E402

SCRATCH = tempfile.mkdtemp(prefix="icstudio-live-")
os.environ.update(ICSTUDIO_VAR=SCRATCH, REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
                  DJANGO_SETTINGS_MODULE="webapp.config.settings")

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks.train import write_rec  # noqa: E402
from classifier.events import BatchEnd  # noqa: E402
from classifier.hyperparameters import parse_hyperparameters  # noqa: E402
from classifier.training import train  # noqa: E402
from webapp.datasets.models import Dataset, DatasetVersion  # noqa: E402
from webapp.training.models import TrainingJob  # noqa: E402
from webapp.training.recording import JobRecorder  # noqa: E402


class Listener(threading.Thread):
    """A browser's WebSocket in a thread: notes when each seq arrives."""

    def __init__(self, url: str, cookie: str):
        super().__init__(daemon=True)
        self.url, self.cookie = url, cookie
        self.arrived: dict[int, float] = {}
        self.ready = threading.Event()
        self.stop = False

    def run(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        import json

        async with websockets.connect(self.url, additional_headers={"Cookie": self.cookie, "Origin": "http://127.0.0.1"}) as ws:
            self.ready.set()
            while not self.stop:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                self.arrived[message["seq"]] = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", password="bench-bench-1")
    dataset = Dataset.objects.create(owner=user, name="bench")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, class_names=[str(i) for i in range(10)],
                                            status="ready", directory="x")
    hp = parse_hyperparameters({"num_classes": 10, "num_training_samples": args.images, "num_layers": 20,
                                "image_shape": "3,32,32", "epochs": args.epochs, "learning_rate": 0.01})
    job = TrainingJob.objects.create(owner=user, version=version, hyperparameters=hp.to_sagemaker(), state="running")
    browser = Client()
    browser.force_login(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "webapp.config.asgi:application", "--port", str(port),
                               "--no-access-log", "--log-level", "warning"], cwd=REPO, env=dict(os.environ))
    try:
        for _ in range(150):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        listener = Listener(f"ws://127.0.0.1:{port}/ws/jobs/{job.id}/", cookie)
        listener.start()
        listener.ready.wait(10)

        recorder = JobRecorder(job, batch_interval=0)
        sent: dict[int, float] = {}
        for i in range(args.events):
            tic = time.perf_counter()
            recorder(BatchEnd(0, i, args.events, 1.0, 0.5, 1000.0, 0.1))
            sent[i + 1] = tic
            time.sleep(0.01)
        time.sleep(1)
        latencies = sorted((listener.arrived[s] - t) * 1000 for s, t in sent.items() if s in listener.arrived)

        rec = write_rec(Path(SCRATCH) / "train.rec", args.images, 32, 10)
        alone = train(hp, train_rec=rec, validation_rec=rec, model_dir=Path(SCRATCH) / "alone")
        streamed = train(hp, train_rec=rec, validation_rec=rec, model_dir=Path(SCRATCH) / "streamed",
                         handlers=[JobRecorder(job)])
        listener.stop = True
    finally:
        server.terminate()
        server.wait(timeout=20)

    batches = -(-args.images // hp.mini_batch_size)

    def speed(result):  # steady state: the first epoch pays for building the graph
        return statistics.median(batches * hp.mini_batch_size / row["time"] for row in result.history[1:])

    print(f"batch end -> browser message: {len(latencies)}/{args.events} arrived, "
          f"p50 {statistics.median(latencies):.1f} ms, p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f} ms")
    print(f"training, library alone      : {speed(alone):7.1f} images/s")
    print(f"training, dashboard streaming: {speed(streamed):7.1f} images/s")
    print(f"ratio (streaming / alone): {speed(streamed) / speed(alone):.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
