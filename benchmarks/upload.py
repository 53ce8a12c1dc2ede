"""Ingestion through the HTTP API: 2,000 JPEGs (about 500x375) uploaded in batches to the real server
(the one-command launcher: daphne, a worker, Redis), with the server's peak memory. Target: >= 100
images/s (hashing, full decode check, thumbnail, storage).

    python benchmarks/upload.py [--images 2000] [--batch 100]

The reference figure printed beside it is this machine's own floor for the same images: Pillow
decoding each once in this process, so the ratio shows what the web path costs on top.
"""
from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def photos(count: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:375, 0:500]
    out = []
    for i in range(count):
        base = (127 + 100 * np.sin(x / (40 + i % 50)) * np.cos(y / (30 + i % 20)))[..., None] + rng.integers(0, 80, 3)
        pixels = np.clip(base + rng.normal(0, 6, (375, 500, 3)), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss_mb(port: int) -> float:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"-p {port}" in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    status = (entry / "status").read_text()
                    return int(status.split("VmHWM:")[1].split()[0]) / 1024
            except (OSError, IndexError):
                continue
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    images = photos(args.images)
    tic = time.perf_counter()
    for data in images:
        Image.open(io.BytesIO(data)).load()
    decode_only = len(images) / (time.perf_counter() - tic)

    port = free_port()
    with tempfile.TemporaryDirectory() as var:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env["ICSTUDIO_VAR"] = var
        launcher = subprocess.Popen([sys.executable, "-m", "webapp.launch", "--port", str(port), "--concurrency", "1"],
                                    cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    requests.get(f"{base}/signin/", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.2)
            subprocess.run([sys.executable, "manage.py", "shell", "-c",
                            "from django.contrib.auth.models import User; User.objects.create_user('bench', password='bench-bench-1')"],
                           cwd=REPO, env=env, check=True)
            token = requests.post(f"{base}/api/auth/token/", data={"username": "bench", "password": "bench-bench-1"}).json()["token"]
            session = requests.Session()
            session.headers["Authorization"] = f"Token {token}"
            dataset = session.post(f"{base}/api/datasets/", json={"name": "bench"}).json()["id"]
            accepted = 0
            tic = time.perf_counter()
            for start in range(0, len(images), args.batch):
                chunk = images[start : start + args.batch]
                files = [("files", (f"{start + i}.jpg", data, "image/jpeg")) for i, data in enumerate(chunk)]
                paths = [("paths", f"class{(start + i) % 10}/{start + i}.jpg") for i in range(len(chunk))]
                report = session.post(f"{base}/api/datasets/{dataset}/uploads/", files=files, data=paths).json()
                accepted += report["accepted"]
            elapsed = time.perf_counter() - tic
            rss = peak_rss_mb(port)
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(timeout=60)
    speed = accepted / elapsed
    print(f"{accepted} of {len(images)} images accepted in {elapsed:.1f} s through HTTP: {speed:.0f} images/s (target >= 100)")
    print(f"reference: Pillow decodes these {decode_only:.0f} images/s in one process; ratio {speed / decode_only:.2f}")
    print(f"web server peak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
