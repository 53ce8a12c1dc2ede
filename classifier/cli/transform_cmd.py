"""``python -m classifier transform MODEL INPUT [--lst LST] --output OUT.jsonl``: SageMaker batch transform."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifier.errors import ClassifierError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "transform", help="classify every image of a .zip or .rec into JSON Lines",
        description='One line per image, in input order: {"file": ..., "prediction": [...]}, or {"file": ..., '
                    '"error": ...} for an image that cannot be decoded. An interrupted run continues where it stopped.')
    parser.add_argument("model", type=Path, help="model.tar.gz or its unpacked directory")
    parser.add_argument("input", type=Path, help="a .zip of JPEG/PNG images, or a .rec")
    parser.add_argument("--lst", type=Path, help="the .rec's .lst, to name each line by its file")
    parser.add_argument("--output", "-o", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from classifier.inference import Predictor
    from classifier.transform import count_items, items_of, transform

    for path in (args.model, args.input, args.lst):
        if path is not None and not path.exists():
            raise ClassifierError(f"{path}: no such file")
    total = count_items(args.input)
    predictor = Predictor(args.model)
    with tqdm(total=total, unit="img", disable=args.no_progress, file=sys.stderr) as bar:
        def progress(done: int, _failed: int) -> None:
            bar.update(done - bar.n)

        lines, failed = transform(predictor, items_of(args.input, args.lst), args.output,
                                  batch_size=args.batch_size, on_progress=progress)
    print(f"{lines} lines written to {args.output}" + (f"; {failed} images could not be decoded" if failed else ""),
          file=sys.stderr)
    return 0
