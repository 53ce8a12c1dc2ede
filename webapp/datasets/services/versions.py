"""Frozen versions: an immutable snapshot, then .lst and .rec/.idx files built by a worker."""
from __future__ import annotations

import posixpath
import re
from collections import Counter
from functools import partial
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from webapp.core import media
from webapp.core.errors import ServiceError
from webapp.datasets.models import Dataset, DatasetVersion, Split, VersionItem
from webapp.datasets.services.labeling import split_unassigned
from webapp.datasets.tasks import build_version

FILES = ("train.lst", "train.rec", "train.idx", "val.lst", "val.rec", "val.idx")


def _hold_out_validation(dataset: Dataset) -> None:
    """Training needs a validation set (MXNet fails on an empty one), so a dataset never split gets
    the usual stratified 80/20; when even that holds nothing out, freezing is refused in words."""
    labeled = dataset.images.filter(labels__isnull=False).distinct()
    if not labeled.filter(split=Split.UNASSIGNED).exists():
        raise ServiceError("every labeled image is in train, so there is nothing to validate the model on: "
                           "click Split to hold some out, or put a few images in validation by hand")
    if not split_unassigned(dataset=dataset)["val"]:
        raise ServiceError(f"too few images to hold any out for validation: {labeled.count()} labeled, no class "
                           f"with two or more. Label at least two images of a class (five or more of each "
                           f"trains far better), then freeze again")


@transaction.atomic
def version_freeze(*, dataset: Dataset) -> DatasetVersion:
    """Snapshot every labeled image with its labels and split. With no validation images yet, some are
    held out first (and the version says so); otherwise images not put in validation train."""
    if not dataset.images.filter(labels__isnull=False).exists():
        raise ServiceError("label some images before freezing a version")
    auto_split = not dataset.images.filter(labels__isnull=False, split=Split.VALIDATION).exists()
    if auto_split:
        _hold_out_validation(dataset)
    classes = list(dataset.classes.all())
    index_of = {c.id: i for i, c in enumerate(classes)}
    images = list(dataset.images.filter(labels__isnull=False).distinct().prefetch_related("labels"))
    number = (dataset.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    version = DatasetVersion.objects.create(
        dataset=dataset, number=number, multi_label=dataset.multi_label, class_names=[c.name for c in classes],
        directory=media.version_relative(dataset.id, number), auto_split=auto_split,
    )
    items, images_per_split, per_class = [], Counter(), {"train": Counter(), "val": Counter()}
    for index, image in enumerate(images):
        split = Split.VALIDATION if image.split == Split.VALIDATION else Split.TRAIN
        labels = sorted(index_of[c.id] for c in image.labels.all())
        items.append(VersionItem(version=version, index=index, stored=image.stored, file_name=image.file_name,
                                 labels=labels, split=split))
        images_per_split[split] += 1
        per_class[split].update(version.class_names[i] for i in labels)
    if not images_per_split[Split.TRAIN]:
        raise ServiceError("a version needs training images; put fewer images in validation")
    VersionItem.objects.bulk_create(items, batch_size=1000)
    version.counts = {"images": {"train": images_per_split["train"], "val": images_per_split["val"]},
                      "classes": {split: dict(counter) for split, counter in per_class.items()}}
    version.save(update_fields=["counts"])
    transaction.on_commit(partial(build_version.delay, version.id))
    return version


def version_directory(version: DatasetVersion) -> Path:
    return media.version_dir(version)


def version_files(version: DatasetVersion) -> dict[str, Path]:
    """The built files that exist, by name."""
    directory = version_directory(version)
    return {name: directory / name for name in FILES if (directory / name).exists()}


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')  # separators, controls (a tab would break a .lst row), Windows' reserved


def _safe_part(name: str) -> str:
    """One path component that unpacks to itself on any system and never climbs out of its folder."""
    cleaned = _UNSAFE.sub("_", name).strip().rstrip(".")
    return cleaned if cleaned.strip(".") else "_"


def version_item_paths(version: DatasetVersion) -> dict[int, list[str]]:
    """Each item's paths as ``<class>/<name as uploaded>``, one per class it has: the first is its .lst
    row, all are where the version's zip holds it. That is how im2rec.py lists a folder of class
    folders, so the .lst with the zip's ``train/`` (or ``val/``) folder rebuilds the .rec. A name taken
    in a class folder (ignoring case, as some file systems do) gets -2, -3, ... before its extension."""
    folders, taken_folders = [], set()
    for name in version.class_names:
        folder, n = _safe_part(name), 1
        while (folder if n == 1 else f"{folder}-{n}").lower() in taken_folders:
            n += 1
        folders.append(folder if n == 1 else f"{folder}-{n}")
        taken_folders.add(folders[-1].lower())
    taken: set[tuple[str, str]] = set()
    paths = {}
    for item in version.items.order_by("index").only("index", "labels", "file_name", "stored"):
        base = _safe_part(posixpath.basename(item.file_name))
        stem, extension = posixpath.splitext(base)
        if extension.lower() not in (".jpg", ".jpeg", ".png"):  # e.g. a record imported from a .rec
            stem, extension = base, posixpath.splitext(item.stored)[1]
        homes = [folders[label] for label in item.labels]
        n = 1
        while True:
            name = f"{stem}{extension}" if n == 1 else f"{stem}-{n}{extension}"
            keys = {(home.lower(), name.lower()) for home in homes}
            if not keys & taken:
                break
            n += 1
        taken |= keys
        paths[item.index] = [f"{home}/{name}" for home in homes]
    return paths
