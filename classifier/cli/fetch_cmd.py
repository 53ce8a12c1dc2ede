"""``python -m classifier fetch-pretrained``: put MXNet model-zoo ResNets in a local model store.

Training never downloads anything; this is the one command that does, for users with internet.
"""
from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from classifier.errors import ClassifierError
from classifier.files import atomic_write
from classifier.resnet_depths import IMAGENET_DEPTHS

MODEL_ZOO = "http://data.mxnet.io/models/imagenet/resnet"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "fetch-pretrained", help="download ImageNet ResNet checkpoints for transfer learning",
        description="Download MXNet model-zoo checkpoints (resnet-N-symbol.json, resnet-N-0000.params).",
    )
    parser.add_argument("model_store", type=Path, help="folder to put them in (give it to train --model-store)")
    parser.add_argument("--num-layers", type=int, nargs="+", default=[18], choices=IMAGENET_DEPTHS)
    parser.add_argument("--base-url", default=MODEL_ZOO, help="model zoo address (default %(default)s)")
    parser.set_defaults(func=run)


def _download(url: str, target: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, atomic_write(target) as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as error:
        raise ClassifierError(f"cannot download {url}: {getattr(error, 'reason', error)}") from error


def run(args: argparse.Namespace) -> int:
    args.model_store.mkdir(parents=True, exist_ok=True)
    for depth in args.num_layers:
        for name in (f"resnet-{depth}-symbol.json", f"resnet-{depth}-0000.params"):
            target = args.model_store / name
            if not target.exists():
                _download(f"{args.base_url}/{depth}-layers/{name}", target)
        print(f"resnet-{depth}: {args.model_store}")
    return 0
