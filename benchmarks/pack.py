"""Our packer against MXNet's im2rec.py on the same JPEGs, each timed as a whole process, 2 workers each.

    python benchmarks/pack.py [--small 2000] [--large 300] [--data DIR]

Prints images/s of both and the ratio ours/theirs. Targets: >= 1.0 for the small set with
--resize 256, >= 2.0 with --pass-through, >= 2.0 for camera-size photos with --resize 256.
The images are generated in a temporary folder, or in ``--data`` (kept and reused next time,
which saves the minute the camera-size set takes to make).
"""
from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw

REPO = Path(__file__).resolve().parents[1]


def _im2rec() -> Path:
    import mxnet  # only its location: the tool runs in its own process

    return Path(mxnet.__file__).parent / "tools" / "im2rec.py"


@functools.lru_cache(maxsize=2)
def _grain(width: int, height: int) -> Image.Image:
    """Sensor-like noise, made once per worker and size (it is the slow part) and shifted per image."""
    return Image.merge("RGB", [Image.effect_noise((width + 64, height + 64), 6) for _ in range(3)])


def _photo(job: tuple[Path, int, int, int]) -> None:
    """Smooth colour gradients, a few flat shapes and grain: JPEG sizes like a photo's (random
    noise alone would compress far worse, a flat image far better)."""
    path, width, height, seed = job
    rng = np.random.default_rng(seed)
    small_w, small_h = max(8, width // 16), max(8, height // 16)
    y, x = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    base = np.empty((small_h, small_w, 3), np.float32)
    for channel in range(3):
        fx, fy, phase = *rng.uniform(1, 6, 2), rng.uniform(0, 6.28)
        base[..., channel] = 127 + 100 * np.sin(x / small_w * fx * np.pi + phase) * np.cos(y / small_h * fy * np.pi)
    image = Image.fromarray(base.clip(0, 255).astype(np.uint8)).resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        cx, cy, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(height // 16, height // 4))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        else:
            draw.rectangle((cx - r, cy - r // 2, cx + r, cy + r // 2), fill=colour)
    dx, dy = (int(v) for v in rng.integers(0, 64, 2))
    grain = _grain(width, height).crop((dx, dy, dx + width, dy + height))
    ImageChops.add(image, grain, 1.0, -128).save(path, quality=92)


def make_set(root: Path, count: int, width: int, height: int) -> Path:
    """``count`` JPEGs in two class folders and one .lst made by im2rec.py itself (reused if present)."""
    if (root / "set.lst").exists():
        return root
    jobs = [(root / "images" / "ab"[i % 2] / f"{i:05d}.jpg", width + i % 7, height, i) for i in range(count)]
    for folder in ("a", "b"):
        (root / "images" / folder).mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor() as pool:
        list(pool.map(_photo, jobs, chunksize=8))
    subprocess.run([sys.executable, str(_im2rec()), "--list", "--recursive", str(root / "set"), str(root / "images")],
                   check=True, capture_output=True)
    return root


def _timed(command: list[str]) -> float:
    tic = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - tic


def compare(root: Path, options: list[str], label: str, target: float) -> float:
    count = sum(1 for _ in open(root / "set.lst"))
    prefix, images = str(root / "set"), str(root / "images")
    theirs = _timed([sys.executable, str(_im2rec()), *options, "--num-thread", "2", prefix, images])
    ours = _timed([sys.executable, "-m", "classifier", "pack", *options, "--num-thread", "2", "--no-progress",
                   prefix, images])
    ratio = theirs / ours
    verdict = "ok" if ratio >= target else "MISSED"
    print(f"{label:<28} im2rec.py {count / theirs:7.1f} img/s   ours {count / ours:7.1f} img/s   "
          f"ratio {ratio:5.2f} (target >= {target}) {verdict}", flush=True)
    return ratio


def run(data: Path, small: int, large: int) -> None:
    small_set = make_set(data / f"small-{small}", small, 500, 375)
    large_set = make_set(data / f"large-{large}", large, 4000, 3000)
    compare(small_set, ["--resize", "256"], f"{small} x 500x375 --resize 256", 1.0)
    compare(small_set, ["--pass-through"], f"{small} x 500x375 --pass-through", 2.0)
    compare(large_set, ["--resize", "256"], f"{large} x 4000x3000 --resize 256", 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2000, help="images of about 500x375")
    parser.add_argument("--large", type=int, default=300, help="images of about 4000x3000")
    parser.add_argument("--data", type=Path, help="keep the generated images here and reuse them")
    args = parser.parse_args()
    if args.data:
        run(args.data, args.small, args.large)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            run(Path(scratch), args.small, args.large)


if __name__ == "__main__":
    main()
