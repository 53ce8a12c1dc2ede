"""``python -m classifier train``: SageMaker's training channels as command-line options."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from classifier.errors import ClassifierError
from classifier.events import BatchEnd, EpochEnd

LOG_FORMAT = "[%(asctime)s %(levelname)s %(thread)d] %(message)s"  # the container's format
LOG_DATE = "%m/%d/%Y %H:%M:%S"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model", description="Train a ResNet as SageMaker's image-classification algorithm does.",
    )
    channels = parser.add_argument_group("channels")
    channels.add_argument("--train", required=True, type=Path, help="train .rec file, or image folder with --train-lst")
    channels.add_argument("--validation", required=True, type=Path, help="validation .rec file, or image folder with --validation-lst")
    channels.add_argument("--train-lst", type=Path, help=".lst of the train image folder (image mode)")
    channels.add_argument("--validation-lst", type=Path, help=".lst of the validation image folder (image mode)")
    channels.add_argument("--model", type=Path, help="model.tar.gz to continue from (incremental training)")
    parser.add_argument("--hyperparameters", required=True, type=Path, help="JSON object of SageMaker hyperparameters")
    parser.add_argument("--model-dir", required=True, type=Path, help="where model.tar.gz and metrics.json go")
    parser.add_argument("--work-dir", type=Path, help="checkpoints to resume from (default MODEL_DIR/work)")
    parser.add_argument("--model-store", type=Path, help="folder of MXNet model-zoo checkpoints for transfer learning")
    parser.add_argument("--class-names", type=Path, help="JSON list, or one name per line, in label order")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    distributed = parser.add_argument_group(
        "several machines", "MXNet's parameter server, as SageMaker trains with instance_count > 1 "
        "(kv_store defaults to dist_sync; set dist_async in the hyperparameters for asynchronous updates)")
    distributed.add_argument("--workers", type=int, default=1, help="training processes (one per machine)")
    distributed.add_argument("--servers", type=int, default=1, help="parameter servers, with --workers > 1")
    distributed.add_argument("--launcher", default="local", help="local (this machine), ssh, mpi, sge or yarn")
    distributed.add_argument("--hostfile", type=Path, help="machines for the ssh or mpi launcher, one a line")
    parser.set_defaults(func=run)


def _read_json_object(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ClassifierError(f"{path}: cannot read a JSON object ({error})") from error
    if not isinstance(value, dict):
        raise ClassifierError(f"{path}: hyperparameters must be a JSON object")
    return value


def _class_names(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    text = path.read_text()
    if text.lstrip().startswith("["):
        return [str(name) for name in json.loads(text)]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _channel(folder_or_rec: Path, lst: Path | None, name: str, work_dir: Path, resize: int | None) -> Path:
    from classifier import data

    if lst is None:
        if not folder_or_rec.is_file():
            raise ClassifierError(f"--{name}: {folder_or_rec} is not a .rec file (give --{name}-lst for an image folder)")
        return folder_or_rec
    if not folder_or_rec.is_dir():
        raise ClassifierError(f"--{name}-lst needs --{name} to be the image folder, not {folder_or_rec}")
    return data.pack_image_channel(lst, folder_or_rec, work_dir / "records", resize=resize, name=name)


class _ProgressBar:
    """One bar per epoch on stderr, fed by the loop's events."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def __call__(self, event) -> None:
        if not self.enabled:
            return
        if isinstance(event, BatchEnd):
            if self.bar is None:
                self.bar = tqdm(total=event.batches, desc=f"Epoch[{event.epoch}]", unit="batch", leave=False)
            self.bar.set_postfix(loss=f"{event.loss:.3f}", acc=f"{event.accuracy:.3f}", img_s=f"{event.samples_per_sec:.0f}")
            self.bar.update(1)
        elif isinstance(event, EpochEnd) and self.bar is not None:
            self.bar.close()
            self.bar = None


def _relaunch(args: argparse.Namespace) -> int:
    """The same command once more, under MXNet's launcher, without the launcher's own options."""
    import sys

    from classifier.distributed import launch

    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        name = arg.split("=")[0]
        if name in ("--workers", "--servers", "--launcher", "--hostfile"):
            skip = "=" not in arg
            continue
        argv.append(arg)
    # Each worker shows its own epochs in the log; progress bars from several processes would interleave.
    if "--no-progress" not in argv:
        argv.append("--no-progress")
    return launch([sys.executable, "-m", "classifier", *argv], workers=args.workers, servers=args.servers,
                  launcher=args.launcher, hostfile=args.hostfile)


def run(args: argparse.Namespace) -> int:
    from classifier.distributed import under_launcher
    from classifier.hyperparameters import parse_hyperparameters

    if args.workers > 1 and not under_launcher():
        return _relaunch(args)
    from classifier.training import train

    image_mode = args.train_lst is not None or args.validation_lst is not None
    hp = parse_hyperparameters(_read_json_object(args.hyperparameters), input_mode="image" if image_mode else "recordio")
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, datefmt=LOG_DATE)
    work_dir = args.work_dir or args.model_dir / "work"
    with logging_redirect_tqdm():
        train_rec = _channel(args.train, args.train_lst, "train", work_dir, hp.resize)
        validation_rec = _channel(args.validation, args.validation_lst, "validation", work_dir, hp.resize)
        result = train(
            hp,
            train_rec=train_rec,
            validation_rec=validation_rec,
            model_dir=args.model_dir,
            work_dir=work_dir,
            class_names=_class_names(args.class_names),
            base_model=args.model,
            model_store=args.model_store,
            handlers=[_ProgressBar(not args.no_progress)],
            seed=args.seed,
            resize=None if image_mode else hp.resize,
        )
    if result.artifact.exists():  # only the chief writes it
        print(json.dumps({"model": str(result.artifact), **{k: v for k, v in result.metrics.items()}}))
    return 0
