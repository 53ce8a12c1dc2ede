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
    from classifier.inference import Predictor
    from classifier.invocation_contract import json_line
    from classifier.batched_prediction import predict_each

    if not args.model.is_file():
        raise ClassifierError(f"{args.model}: no such model file")
    predictor = Predictor(args.model)
    failed = 0
    for start in range(0, len(args.images), args.batch_size):
        readable = []
        for path in args.images[start : start + args.batch_size]:
            try:
                readable.append((path, path.read_bytes()))
            except OSError as error:
                failed += 1
                print(f"error: {path}: {error}", file=sys.stderr)
        for (path, _), answer in zip(readable, predict_each(predictor, [image for _, image in readable])):
            if answer.error:
                failed += 1
                print(f"error: {path}: {answer.error}", file=sys.stderr)
            else:
                print(json_line(answer.probabilities, file=str(path)), flush=True)
    return 1 if failed else 0
