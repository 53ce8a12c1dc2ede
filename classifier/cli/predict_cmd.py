"""``python -m classifier predict MODEL.tar.gz IMAGE...``: one JSON line per image."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifier.errors import ClassifierError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="classify images with a model.tar.gz",
                                   description="Print {\"file\": ..., \"prediction\": [...]} for each image.")
    parser.add_argument("model", type=Path, help="model.tar.gz")
    parser.add_argument("images", type=Path, nargs="+", help="JPEG or PNG files")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from classifier.inference import Predictor, json_line

    if not args.model.is_file():
        raise ClassifierError(f"{args.model}: no such model file")
    predictor = Predictor(args.model)
    failed = 0
    try:
        for start in range(0, len(args.images), args.batch_size):
            chunk = args.images[start : start + args.batch_size]
            pixels, names = [], []
            for path in chunk:
                try:
                    pixels.append(predictor.preprocess(path.read_bytes()))
                    names.append(path)
                except (ClassifierError, OSError) as error:
                    failed += 1
                    print(f"error: {path}: {error}", file=sys.stderr)
            if pixels:
                for path, row in zip(names, predictor.predict_arrays(pixels)):
                    print(json_line(row, file=str(path)), flush=True)
    finally:
        predictor.close()
    return 1 if failed else 0
