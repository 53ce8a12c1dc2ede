"""``python -m classifier {pack,train,predict,serve,transform,fetch-pretrained}``: the command line the workers and scripts rely on.

Each sub-command lives in its own module with ``add_parser(subparsers)``, which sets ``func``.
User errors print one line and exit 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from classifier.errors import ClassifierError

COMMANDS = ("pack", "train", "predict", "serve", "transform", "fetch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m classifier",
        description="IC Studio's image classifier, compatible with SageMaker's built-in algorithm.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"classifier.cli.{name}_cmd").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ClassifierError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
