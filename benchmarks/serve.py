"""Prediction latency and throughput over HTTP against a bare MXNet forward, on this machine.

One 224x224 JPEG, a ResNet-18 (random weights: speed does not depend on them), three ways:

1. bare: ``Predictor.predict`` in this process (decode + resize + forward), the reference;
2. ``python -m classifier serve`` (one model, no web app), over HTTP/1.1 keep-alive;
3. IC Studio: uvicorn + Django + Redis + a serving worker (``python -m workers.serving_worker``), SQLite,
   with boto3-style SigV4-less token auth (``Authorization: Token``).

For each server: p50/p99 of sequential requests and their overhead over bare (target p50 <= 15 ms),
then images/s with 32 concurrent clients against sequential (micro-batching must raise it).

    python benchmarks/serve.py [--requests 200] [--concurrent 32]
"""
from __future__ import annotations

import argparse
import http.client
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.processes import free_port, wait_for  # noqa: E402
SCRATCH = Path(tempfile.mkdtemp(prefix="icstudio-serve-"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def resnet18_artifact(path: Path) -> Path:
    import mxnet as mx

    from classifier import artifacts, networks, weights

    symbol = networks.get_symbol(10, 18, (3, 224, 224))
    net = weights.network_block(symbol.get_internals()["fc1_output"])
    for name, param in net.collect_params().items():
        ones, zeros = name.endswith(("_gamma", "_moving_var")), name.endswith(("_beta", "_bias", "_moving_mean"))
        param.init = mx.init.One() if ones else mx.init.Zero() if zeros else mx.init.Xavier(magnitude=2)
    net.initialize()
    net(mx.nd.zeros((1, 3, 224, 224)))
    params = weights.save_params(net, SCRATCH / "resnet18.params")
    return artifacts.write_artifact(path, symbol_json=symbol.tojson(), params={1: params}, image_shape=(3, 224, 224),
                                    class_names=[f"class{i}" for i in range(10)])


def photo_jpeg(size: int = 224) -> bytes:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    pixels = np.stack([x, y, (x + y) // 2], -1).astype(np.float64) + rng.normal(0, 12, (size, size, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def sequential(port: int, path: str, image: bytes, headers: dict, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    timings = []
    for i in range(count + 10):
        tic = time.perf_counter()
        connection.request("POST", path, body=image, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {body[:200]!r}")
        if i >= 10:  # the first requests load the model
            timings.append((time.perf_counter() - tic) * 1000)
    connection.close()
    return timings


def concurrent(port: int, path: str, image: bytes, headers: dict, clients: int, per_client: int) -> float:
    """Images/s with ``clients`` keep-alive connections each sending ``per_client`` requests back to back."""
    barrier = threading.Barrier(clients + 1)
    failures = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        for _ in range(per_client):
            connection.request("POST", path, body=image, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    tic = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - tic
    if failures:
        raise SystemExit(f"{len(failures)} requests failed: {failures[:5]}")
    return clients * per_client / elapsed


def report(name: str, timings: list[float], bare_p50: float, seq_rate: float, conc_rate: float, clients: int) -> None:
    p50, p99 = statistics.median(timings), percentile(timings, 0.99)
    print(f"{name:<22} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  overhead p50 {p50 - bare_p50:+5.1f} ms "
          f"(target <= 15) | sequential {seq_rate:5.1f} img/s, {clients} clients {conc_rate:5.1f} img/s, "
          f"ratio {conc_rate / seq_rate:.2f}")


def web_app(artifact: Path, env: dict) -> tuple[str, int]:
    """Set up IC Studio's database with a user, token and the model; return (token, model name)."""
    script = f"""
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from webapp.accounts.services import api_key_create
from webapp.registry.models import RegisteredModel
user = User.objects.create_user("bench", password="bench-bench-1")
RegisteredModel.objects.create(owner=user, name="resnet18", source="imported", artifact={str(artifact)!r}, num_classes=10,
                     class_names=[str(i) for i in range(10)], image_shape=[3, 224, 224], num_layers=18, is_default=True)
print(api_key_create(user=user, name='benchmark')[1])
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()[-1], "resnet18"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=32)
    parser.add_argument("--per-client", type=int, default=8)
    args = parser.parse_args()

    from classifier.inference import Predictor

    artifact = resnet18_artifact(SCRATCH / "model.tar.gz")
    image = photo_jpeg()
    predictor = Predictor(artifact)
    for _ in range(10):
        predictor.predict([image])
    bare = []
    for _ in range(args.requests):
        tic = time.perf_counter()
        predictor.predict([image])
        bare.append((time.perf_counter() - tic) * 1000)
    bare_p50 = statistics.median(bare)
    print(f"{'bare Predictor':<22} p50 {bare_p50:6.1f} ms  p99 {percentile(bare, 0.99):6.1f} ms "
          f"(decode + resize + forward, one image)")
    del predictor

    headers = {"Content-Type": "image/jpeg"}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "classifier", "serve", str(artifact), "--host", "127.0.0.1",
                               "--port", str(port)], cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server)
        timings = sequential(port, "/invocations", image, headers, args.requests)
        rate = concurrent(port, "/invocations", image, headers, args.concurrent, args.per_client)
        report("classifier serve", timings, bare_p50, 1000 / statistics.mean(timings), rate, args.concurrent)
    finally:
        server.terminate()
        server.wait(timeout=20)

    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    env = dict(os.environ, ICSTUDIO_VAR=str(SCRATCH / "var"), REDIS_URL=REDIS_URL, MEDIA_ROOT=str(SCRATCH),
               DJANGO_SETTINGS_MODULE="webapp.config.settings", LOG_LEVEL="WARNING")
    token, name = web_app(artifact, env)
    port = free_port()
    processes = [
        subprocess.Popen([sys.executable, "-m", "workers.serving_worker"], cwd=REPO, env=env),
        subprocess.Popen([sys.executable, "-m", "uvicorn", "webapp.config.asgi:application", "--port", str(port),
                          "--no-access-log", "--log-level", "warning"], cwd=REPO, env=env),
    ]
    try:
        wait_for(port, processes[1])
        path = f"/endpoints/{name}/invocations"
        auth = {**headers, "Authorization": f"Token {token}"}
        deadline = time.monotonic() + 60
        while True:  # the serving worker's first heartbeat
            connection = http.client.HTTPConnection("127.0.0.1", port)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                break
            if time.monotonic() > deadline:
                raise SystemExit("the serving worker did not start")
            time.sleep(0.2)
        timings = sequential(port, path, image, auth, args.requests)
        rate = concurrent(port, path, image, auth, args.concurrent, args.per_client)
        report("IC Studio web app", timings, bare_p50, 1000 / statistics.mean(timings), rate, args.concurrent)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


if __name__ == "__main__":
    main()
