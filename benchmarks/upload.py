"""Ingestion through the HTTP API: 2,000 JPEGs (about 500x375) uploaded in batches to the real server
(the one-command launcher: daphne, a worker, Redis), with the server's peak memory. Target: >= 100
images/s (hashing, full decode check, thumbnail, storage).

    python benchmarks/upload.py [--images 2000] [--batch 100] [--zip-mb 1000] [--grid 20000]

Then one zip of about ``--zip-mb`` megabytes (large PNG members) goes up in one request, to show the
server's memory stays flat whatever the archive's size (uploads stream to disk, members are read one
at a time); and the labeling grid's API page and the dataset page are timed with ``--grid`` images in a
dataset against the same calls on a dataset of 100.

The reference figure printed beside it is this machine's own floor for the same images: Pillow
decoding each once in this process, so the ratio shows what the web path costs on top.
"""
from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.processes import free_port  # noqa: E402


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


def big_zip(path: Path, megabytes: int) -> Path:
    """Distinct noise PNGs of about 40 MB each (they do not compress), stored in a zip."""
    import zipfile

    rng = np.random.default_rng(1)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(max(1, megabytes // 40)):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (3650, 3650, 3), dtype=np.uint8)).save(buffer, "PNG", compress_level=0)
            archive.writestr(f"big/{i}.png", buffer.getvalue())
    return path


def timed_get(session, url: str, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        tic = time.perf_counter()
        session.get(url).raise_for_status()
        best = min(best, time.perf_counter() - tic)
    return best


def add_rows(env: dict, dataset: int, count: int) -> None:
    """``count`` image rows with labels (no files: the grid's cost is the database and the page)."""
    script = (
        "from webapp.datasets.models import Image, LabelClass, Dataset\n"
        f"d = Dataset.objects.get(id={dataset}); c = LabelClass.objects.create(dataset=d, name='bulk')\n"
        f"rows = Image.objects.bulk_create([Image(dataset=d, sha256=f'{{i:064x}}', file_name=f'{{i}}.jpg', stored='x',"
        f" thumbnail='x', format='JPEG', width=1, height=1, size=1) for i in range({count})], batch_size=2000)\n"
        "Image.labels.through.objects.bulk_create([Image.labels.through(image_id=r.id, labelclass_id=c.id) "
        "for r in rows[::2]], batch_size=2000)\n"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=REPO, env=env, check=True)


def peak_rss_mb(port: int) -> float:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if "uvicorn" in command and f"--port {port}" in command:
                    status = (entry / "status").read_text()
                    return int(status.split("VmHWM:")[1].split()[0]) / 1024
            except (OSError, IndexError):
                continue
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--zip-mb", type=int, default=1000)
    parser.add_argument("--grid", type=int, default=20000)
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

            archive = big_zip(Path(var) / "big.zip", args.zip_mb)
            tic = time.perf_counter()
            with open(archive, "rb") as stream:
                report = session.post(f"{base}/api/datasets/{dataset}/uploads/",
                                      files=[("files", ("big.zip", stream, "application/zip"))]).json()
            zip_seconds = time.perf_counter() - tic
            zip_rss = peak_rss_mb(port)
            zip_mb = archive.stat().st_size / 1e6

            small = session.post(f"{base}/api/datasets/", json={"name": "small"}).json()["id"]
            large = session.post(f"{base}/api/datasets/", json={"name": "large"}).json()["id"]
            add_rows(env, small, 100)
            add_rows(env, large, args.grid)
            grid = {}
            for name, d in (("small", small), ("large", large)):
                grid[name] = (timed_get(session, f"{base}/api/datasets/{d}/images/?page=2&unlabeled=1" if name == "large"
                                        else f"{base}/api/datasets/{d}/images/?unlabeled=1"),
                              timed_get(session, f"{base}/api/datasets/{d}/"))
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(timeout=60)
    speed = accepted / elapsed
    print(f"{accepted} of {len(images)} images accepted in {elapsed:.1f} s through HTTP: {speed:.0f} images/s (target >= 100)")
    print(f"reference: Pillow decodes these {decode_only:.0f} images/s in one process; ratio {speed / decode_only:.2f}")
    print(f"web server peak RSS: {rss:.0f} MB")
    print(f"one {zip_mb:.0f} MB zip ({report['accepted']} images) in {zip_seconds:.1f} s; web server peak RSS "
          f"then {zip_rss:.0f} MB (ratio to the small uploads' peak {zip_rss / rss:.2f})")
    (small_page, small_detail), (large_page, large_detail) = grid["small"], grid["large"]
    print(f"grid API page: {large_page * 1000:.0f} ms with {args.grid} images vs {small_page * 1000:.0f} ms with 100 "
          f"(ratio {large_page / small_page:.2f}); dataset API: {large_detail * 1000:.0f} ms vs "
          f"{small_detail * 1000:.0f} ms (ratio {large_detail / small_detail:.2f})")


if __name__ == "__main__":
    main()
