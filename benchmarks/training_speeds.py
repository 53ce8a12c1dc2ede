"""Training images/s of each depth and input side on this machine: the table behind the training
form's duration estimates before any job has run here (``webapp/training/presets.py``, CPU_SPEEDS).

Each configuration trains one epoch on random JPEGs of its side with batch 16 and reports the median
of the per-batch speeds after the first batch, the figure a job records as ``images_per_sec``.

    python benchmarks/training_speeds.py [--depths 20,32,56,18,34,50] [--sides 32,64,96,128,224]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.train import write_rec  # noqa: E402
from classifier.events import BatchEnd  # noqa: E402
from classifier.hyperparameters import parse_hyperparameters  # noqa: E402
from classifier.training import train  # noqa: E402


def speed(depth: int, side: int, scratch: Path, images: int = 96) -> float:
    rec = scratch / f"{side}.rec"
    if not rec.exists():
        write_rec(rec, images, side, 4)
    hp = parse_hyperparameters({"num_classes": "4", "num_training_samples": str(images), "num_layers": str(depth),
                                "image_shape": f"3,{side},{side}", "epochs": "1", "mini_batch_size": "16",
                                "learning_rate": "0.05", "augmentation_type": "crop"})
    speeds: list[float] = []
    train(hp, train_rec=rec, validation_rec=rec, model_dir=scratch / f"run-{depth}-{side}",
          handlers=[lambda e: speeds.append(e.samples_per_sec) if isinstance(e, BatchEnd) else None])
    return statistics.median(speeds[1:] or speeds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--depths", default="20,32,56,18,34,50")
    parser.add_argument("--sides", default="32,64,96,128,224")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for depth in map(int, args.depths.split(",")):
            row = {side: speed(depth, side, Path(scratch)) for side in map(int, args.sides.split(","))}
            print(f"    {depth}: {{{', '.join(f'{side}: {value:.1f}' for side, value in row.items())}}},", flush=True)


if __name__ == "__main__":
    main()
