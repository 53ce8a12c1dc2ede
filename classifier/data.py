"""Training and validation batches from RecordIO, with SageMaker's augmentation levels.

MXNet's ``ImageRecordIter`` does the decoding and augmentation in C++, so the augmentation
constants are exactly those of MXNet's ``set_data_aug_level`` that SageMaker maps
``augmentation_type`` onto (spec 7.2). Each epoch gets a fresh iterator seeded with the epoch
number, so a resumed run sees the same order and augmentations an uninterrupted one would.
"""
from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import mxnet as mx
import numpy as np

from classifier import recordio
from classifier.errors import ClassifierError, RecordIOError
from classifier.hyperparameters import Hyperparameters

log = logging.getLogger(__name__)

# augmentation_type -> ImageRecordIter arguments, cumulative as in MXNet's set_data_aug_level 1/2/3.
_CROP = {"rand_crop": True, "rand_mirror": True}
_COLOR = {**_CROP, "random_h": 36, "random_s": 50, "random_l": 50}
_TRANSFORM = {**_COLOR, "max_rotate_angle": 10, "max_shear_ratio": 0.1, "max_aspect_ratio": 0.25}
AUGMENTATIONS: dict[str | None, dict] = {
    None: {},
    "crop": _CROP,
    "crop_color": _COLOR,
    "crop_color_transform": _TRANSFORM,
}
AFFINE_FILL = 127  # MXNet's example passes 127; the library default is 255 (spec 0.7)


def index_path(rec_path: Path, work_dir: Path) -> Path:
    """The ``.idx`` beside a ``.rec``, or one built in ``work_dir``: SageMaker needs no index, but
    shuffling and random access do."""
    rec_path = Path(rec_path)
    beside = rec_path.with_suffix(".idx")
    if beside.exists():
        return beside
    built = Path(work_dir) / f"{rec_path.stem}.idx"
    if not built.exists():
        recordio.build_index(rec_path, built)
    return built


def count_records(idx_path: Path) -> int:
    with open(idx_path, "rb") as index:
        return sum(1 for line in index if line.strip())


def label_matrix(rec_path: Path, idx_path: Path, num_classes: int, multi_label: bool) -> np.ndarray:
    """Labels of every record as a (records, classes) 0/1 matrix, for class weights and checks."""
    rows = []
    with recordio.IndexedRecordReader(rec_path, idx_path) as reader:
        for key in reader.keys:
            header, _ = recordio.unpack_record(reader.read(key))
            labels = np.atleast_1d(np.asarray(header.label, dtype=np.float32))
            if multi_label:
                if labels.size != num_classes:
                    raise RecordIOError(
                        f"{rec_path}: record {key} has {labels.size} labels; multi_label needs "
                        f"num_classes={num_classes} (pack with --pack-label)"
                    )
                rows.append(labels)
            else:
                row = np.zeros(num_classes, np.float32)
                label = int(labels[0])
                if not 0 <= label < num_classes:
                    raise RecordIOError(f"{rec_path}: record {key} has label {label}, outside 0..{num_classes - 1}")
                row[label] = 1
                rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, num_classes), np.float32)


def record_iter(
    rec_path: Path,
    idx_path: Path,
    hp: Hyperparameters,
    *,
    batch_size: int,
    train: bool,
    seed: int = 0,
    resize: int | None = None,
    num_parts: int = 1,
    part_index: int = 0,
) -> mx.io.DataIter:
    """Batches of raw RGB 0-255 floats, NCHW (spec 0.2). Validation is always a centre crop.

    A set smaller than ``batch_size`` is read in one batch of its size (MXNet refuses a batch
    larger than its input)."""
    augmentation = AUGMENTATIONS[hp.augmentation_type] if train else {}
    batch_size = max(1, min(batch_size, count_records(idx_path)))
    try:
        return mx.io.ImageRecordIter(
            path_imgrec=str(rec_path),
            path_imgidx=str(idx_path),
            data_shape=hp.image_shape,
            label_width=hp.num_classes if hp.multi_label else 1,
            batch_size=batch_size,
            shuffle=train,
            seed=seed,
            seed_aug=seed,
            resize=resize or -1,
            fill_value=AFFINE_FILL,
            round_batch=True,  # constant batch shape keeps the static graph; padding is masked out
            num_parts=num_parts,
            part_index=part_index,
            preprocess_threads=2,
            verbose=False,
            **augmentation,
        )
    except mx.base.MXNetError as error:
        raise ClassifierError(f"cannot read {rec_path}: {str(error).strip().splitlines()[-1]}") from error


def pack_image_channel(lst_path: Path, root: Path, work_dir: Path, *, resize: int, name: str) -> Path:
    """SageMaker's image mode: a ``.lst`` and its image tree become a ``.rec`` before training, with
    every image's shorter side resized to ``resize`` (why ``resize`` is required there)."""
    from classifier import pack  # the packer's process pool is only needed in image mode

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    rec_path = work_dir / f"{name}.rec"
    log.info("Creating record files for %s", lst_path)
    report = pack.pack_list(lst_path, root, rec_path=rec_path, resize=resize, num_thread=os.cpu_count() or 1,
                            pack_label=True)
    for path, reason in report.skipped:
        log.warning("Skipped %s: %s", path, reason)
    log.info("Done creating record files...")
    return Path(report.rec_path)


def check_image_sizes(rec_path: Path, idx_path: Path, hp: Hyperparameters, *, sample: int = 2000) -> None:
    """Refuse images smaller than the network input, as SageMaker does (spec 7.2 and 0.8); MXNet
    would silently upscale them. Reads only image headers, of up to ``sample`` records."""
    if hp.resize:
        return  # resize >= max(H, W) is enforced by the hyperparameters
    from PIL import Image

    _, height, width = hp.image_shape
    too_small = []
    with recordio.IndexedRecordReader(rec_path, idx_path) as reader:
        keys = reader.keys
        if len(keys) > sample:
            keys = [keys[i] for i in np.random.default_rng(0).choice(len(keys), sample, replace=False)]
        for key in keys:
            _, payload = recordio.unpack_record(reader.read(key))
            try:
                size = Image.open(io.BytesIO(payload)).size
            except OSError as error:
                raise RecordIOError(f"{rec_path}: record {key} is not an image ({error})") from error
            if size[0] < width or size[1] < height:
                too_small.append(f"record {key} is {size[0]}x{size[1]}")
    if too_small:
        raise ClassifierError(
            f"{rec_path}: images must be at least {width}x{height} (image_shape), or set resize: "
            + ", ".join(too_small[:3]) + (f" and {len(too_small) - 3} more" if len(too_small) > 3 else "")
        )
