"""Frozen versions: an immutable snapshot, then .lst and .rec/.idx files built by a worker."""
from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from webapp.datasets.models import Dataset, DatasetVersion, Split, VersionItem
from webapp.datasets.services.classes import ServiceError

FILES = ("train.lst", "train.rec", "train.idx", "val.lst", "val.rec", "val.idx")


@transaction.atomic
def version_freeze(*, dataset: Dataset) -> DatasetVersion:
    """Snapshot every labeled image with its labels and split. Images not put in validation train."""
    classes = list(dataset.classes.all())
    index_of = {c.id: i for i, c in enumerate(classes)}
    images = list(dataset.images.filter(labels__isnull=False).distinct().prefetch_related("labels"))
    if not images:
        raise ServiceError("label some images before freezing a version")
    number = (dataset.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    version = DatasetVersion.objects.create(
        dataset=dataset, number=number, multi_label=dataset.multi_label, class_names=[c.name for c in classes],
        directory=f"datasets/{dataset.id}/versions/{number}",
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
    from workers.tasks import build_version

    transaction.on_commit(partial(build_version.delay, version.id))
    return version


def version_directory(version: DatasetVersion) -> Path:
    return Path(settings.MEDIA_ROOT) / version.directory


def version_files(version: DatasetVersion) -> dict[str, Path]:
    """The built files that exist, by name."""
    directory = version_directory(version)
    return {name: directory / name for name in FILES if (directory / name).exists()}
