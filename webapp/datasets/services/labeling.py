"""Label assignment and the train/validation split."""
from __future__ import annotations

from django.db import transaction

from classifier.lst import ListEntry, split_stratified
from webapp.core.errors import ServiceError
from webapp.datasets.models import Dataset, Image, Split


def _images(dataset: Dataset, image_ids: list[int]):
    images = list(dataset.images.filter(id__in=image_ids))
    if len(images) != len(set(image_ids)):
        raise ServiceError("some images are not in this dataset", "images")
    return images


def _classes(dataset: Dataset, class_ids: list[int]):
    classes = list(dataset.classes.filter(id__in=class_ids))
    if len(classes) != len(set(class_ids)):
        raise ServiceError("some classes are not in this dataset", "classes")
    return classes


@transaction.atomic
def labels_set(*, dataset: Dataset, image_ids: list[int], class_id: int | None) -> int:
    """Give each image exactly one class (or none with ``class_id`` None)."""
    images = _images(dataset, image_ids)
    classes = _classes(dataset, [class_id]) if class_id is not None else []
    for image in images:
        image.labels.set(classes)
    return len(images)


@transaction.atomic
def labels_change(*, dataset: Dataset, image_ids: list[int], add: list[int], remove: list[int]) -> int:
    """Add and remove classes (multi-label datasets; on single-label ones ``add`` replaces)."""
    images = _images(dataset, image_ids)
    adding, removing = _classes(dataset, add), _classes(dataset, remove)
    if not dataset.multi_label and len(adding) > 1:
        raise ServiceError("a single-label dataset gives each image one class", "add")
    for image in images:
        if removing:
            image.labels.remove(*removing)
        if adding:
            if dataset.multi_label:
                image.labels.add(*adding)
            else:
                image.labels.set(adding)
    return len(images)


# What freezing uses when no validation split was set: the usual 80/20, the same every time.
AUTO_SPLIT_RATIO, AUTO_SPLIT_SEED = 0.8, 0


def _label_key(image: Image) -> tuple[float, ...]:
    return tuple(sorted(float(c.id) for c in image.labels.all()))


def _split_images(images: list[Image], *, train_ratio: float, seed: int, stratified: bool) -> tuple[list[int], list[int]]:
    """Image ids for train and validation; every class of two or more images gets a validation image."""
    entries = [ListEntry(image.id, _label_key(image) if stratified else (0.0,), "") for image in images]
    train, validation = split_stratified(entries, train_ratio, seed, min_validation=1)
    return [e.index for e in train], [e.index for e in validation]


@transaction.atomic
def split_assign(*, dataset: Dataset, train_ratio: float, seed: int = 0, stratified: bool = True) -> dict[str, int]:
    """Split the labeled images: per class (or per label set) when ``stratified``; the same seed
    gives the same split. Unlabeled images stay unassigned."""
    if not 0 < train_ratio < 1:
        raise ServiceError("train_ratio must be between 0 and 1", "train_ratio")
    labeled = list(dataset.images.filter(labels__isnull=False).distinct().prefetch_related("labels"))
    train, validation = _split_images(labeled, train_ratio=train_ratio, seed=seed, stratified=stratified)
    dataset.images.filter(id__in=train).update(split=Split.TRAIN)
    dataset.images.filter(id__in=validation).update(split=Split.VALIDATION)
    dataset.images.filter(labels__isnull=True).update(split=Split.UNASSIGNED)
    return {"train": len(train), "val": len(validation)}


def split_unassigned(*, dataset: Dataset) -> dict[str, int]:
    """Split the labeled images not yet in a split, as freezing does when there is no validation set.

    Stratified by class; a multi-label dataset whose label sets are all unique falls back to one
    group, since stratifying by label set would then hold nothing out."""
    images = list(dataset.images.filter(labels__isnull=False, split=Split.UNASSIGNED).distinct()
                  .prefetch_related("labels"))
    train, validation = _split_images(images, train_ratio=AUTO_SPLIT_RATIO, seed=AUTO_SPLIT_SEED, stratified=True)
    if not validation and dataset.multi_label and len(images) > 1:
        train, validation = _split_images(images, train_ratio=AUTO_SPLIT_RATIO, seed=AUTO_SPLIT_SEED,
                                          stratified=False)
    if validation:  # otherwise nothing is written: the caller refuses and the user's split stays as it was
        dataset.images.filter(id__in=train).update(split=Split.TRAIN)
        dataset.images.filter(id__in=validation).update(split=Split.VALIDATION)
    return {"train": len(train), "val": len(validation)}


def split_set(*, dataset: Dataset, image_ids: list[int], split: str) -> int:
    """Put images in a split by hand."""
    if split not in Split.values:
        raise ServiceError(f"split must be one of train, val or empty, not {split!r}", "split")
    _images(dataset, image_ids)
    return dataset.images.filter(id__in=image_ids).update(split=split)
