"""Reads, always through the owner: another user's object is simply not found (404)."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from webapp.datasets.models import Dataset, DatasetVersion, DeletedClass, Image, LabelClass


def dataset_list(*, user) -> QuerySet[Dataset]:
    return Dataset.objects.filter(owner=user).annotate(image_count=Count("images", distinct=True))


def dataset_get(*, user, dataset_id: int) -> Dataset:
    return get_object_or_404(Dataset, id=dataset_id, owner=user)


def class_list(*, dataset: Dataset) -> QuerySet[LabelClass]:
    return dataset.classes.annotate(image_count=Count("images"))


def class_get(*, dataset: Dataset, class_id: int) -> LabelClass:
    return get_object_or_404(LabelClass, id=class_id, dataset=dataset)


def image_list(*, dataset: Dataset, label: int | None = None, split: str | None = None,
               unlabeled: bool = False, search: str = "") -> QuerySet[Image]:
    images = dataset.images.prefetch_related("labels")
    if search.strip():
        images = images.filter(file_name__icontains=search.strip())
    if label is not None:
        images = images.filter(labels__id=label)
    if split is not None:
        images = images.filter(split=split)
    if unlabeled:
        images = images.filter(labels__isnull=True)
    return images.order_by("id")


def version_get(*, user, version_id: int) -> DatasetVersion:
    return get_object_or_404(DatasetVersion, id=version_id, dataset__owner=user)


def split_counts(*, dataset: Dataset) -> dict[str, int]:
    rows = dataset.images.values("split").annotate(n=Count("id"))
    counts = {"train": 0, "val": 0, "": 0}
    counts.update({row["split"]: row["n"] for row in rows})
    return counts


def unlabeled_count(*, dataset: Dataset) -> int:
    return dataset.images.filter(~Q(labels__isnull=False)).count()


def deleted_class_get(*, dataset: Dataset, deleted_id: int) -> DeletedClass:
    return get_object_or_404(DeletedClass, id=deleted_id, dataset=dataset)


def deleted_class_find(*, dataset: Dataset, deleted_id) -> DeletedClass | None:
    """The deletion a page offers to undo, if it is still undoable (a bad or stale id shows nothing)."""
    try:
        return dataset.deleted_classes.filter(id=int(deleted_id)).first()
    except (TypeError, ValueError):
        return None
