"""Our packer against MXNet's im2rec.py on the same JPEGs, whole process, 2 workers each.

    python benchmarks/pack.py [--small 2000] [--large 300]

Prints images/s of both and the ratio ours/theirs. Targets: >= 1.0 for the small set with
--resize 256, >= 2.0 with --pass-through, >= 2.0 for camera-size photos with --resize 256.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mxnet
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
IM2REC = Path(mxnet.__file__).parent / "tools" / "im2rec.py"


def _photo(args: tuple[Path, int, int, int]) -> None:
    """A smooth gradient with shapes and grain: JPEG sizes like a real photo's, unlike pure noise."""
    path, width, height, seed = args
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.empty((height, width, 3), np.float32)
    for channel in range(3):
        fx, fy, phase = rng.uniform(1, 6, 2).tolist() + [rng.uniform(0, 6.28)]
        pixels[..., channel] = 127 + 100 * np.sin(x / width * fx * 3.14 + phase) * np.cos(y / height * fy * 3.14)
    for _ in range(6):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(height // 12, height // 4)
        pixels[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(0, 255, 3)
    pixels += rng.normal(0, 6, pixels.shape)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)


def make_set(root: Path, count: int, width: int, height: int) -> Path:
    (root / "images" / "a").mkdir(parents=True)
    (root / "images" / "b").mkdir(parents=True)
    jobs = [(root / "images" / "ab"[i % 2] / f"{i:05d}.jpg", width, height, i) for i in range(count)]
    with ProcessPoolExecutor() as pool:
        list(pool.map(_photo, jobs, chunksize=16))
    # One .lst for both tools, made by im2rec itself.
    subprocess.run([sys.executable, str(IM2REC), "--list", "--recursive", str(root / "set"), str(root / "images")],
                   check=True, capture_output=True)
    return root


def timed(command: list[str]) -> float:
    tic = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - tic


def compare(root: Path, count: int, options: list[str], label: str) -> float:
    prefix, images = str(root / "set"), str(root / "images")
    theirs = timed([sys.executable, str(IM2REC), *options, "--num-thread", "2", prefix, images])
    ours = timed([sys.executable, "-m", "classifier", "pack", *options, "--num-thread", "2", "--no-progress",
                  prefix, images])
    ratio = theirs / ours
    print(f"{label:<34} im2rec.py {count / theirs:7.1f} img/s   ours {count / ours:7.1f} img/s   ratio {ratio:5.2f}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2000, help="images of about 500x375")
    parser.add_argument("--large", type=int, default=300, help="images of about 4000x3000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        small = make_set(Path(scratch) / "small", args.small, 500, 375)
        large = make_set(Path(scratch) / "large", args.large, 4000, 3000)
        results = [
            (compare(small, args.small, ["--resize", "256"], "500x375, --resize 256"), 1.0),
            (compare(small, args.small, ["--pass-through"], "500x375, --pass-through"), 2.0),
            (compare(large, args.large, ["--resize", "256"], "4000x3000, --resize 256"), 2.0),
        ]
    print("targets:", ", ".join(f"{ratio:.2f} >= {target}" + (" ok" if ratio >= target else " MISSED")
                                for ratio, target in results))


if __name__ == "__main__":
    main()
