"""Writes on datasets and their classes."""
from __future__ import annotations

import re
import unicodedata

from django.db import transaction
from django.db.models import Max

from webapp.core.errors import ServiceError
from webapp.datasets.models import Dataset, DeletedClass, LabelClass

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


CLASS_NAME_MAX = LabelClass._meta.get_field("name").max_length
# Controls (NUL, newline, tab: a .lst row is tab-separated), format characters (a right-to-left override
# shows "gpj.exe" as "exe.jpg"; zero-width ones make two names look alike), lone surrogates (no encoding
# stores them) and line separators.
_UNPRINTABLE = {"Cc": "a control character", "Cf": "an invisible formatting character",
                "Cs": "a broken character (a lone surrogate)", "Zl": "a line separator", "Zp": "a paragraph separator"}


def class_name_problem(name: str) -> str | None:
    """Why ``name`` (already stripped) cannot name a class, in plain words, or None."""
    if not name:
        return "a class needs a name"
    if len(name) > CLASS_NAME_MAX:
        return f"a class name is at most {CLASS_NAME_MAX} characters (this one has {len(name)})"
    for position, character in enumerate(name, 1):
        if (kind := _UNPRINTABLE.get(unicodedata.category(character))) is not None:
            what = " ".join(filter(None, (f"U+{ord(character):04X}", unicodedata.name(character, ""))))
            return f"a class name cannot hold {kind} ({what}, character {position})"
    return None


def _class_name(name: str) -> str:
    name = name.strip()
    if (problem := class_name_problem(name)) is not None:
        raise ServiceError(problem, "name")
    return name


def _is_colour(value: str) -> bool:
    return bool(re.fullmatch(r"#[0-9a-fA-F]{6}", value or ""))


def dataset_create(*, owner, name: str, multi_label: bool = False) -> Dataset:
    if not name.strip():
        raise ServiceError("a dataset needs a name", "name")
    return Dataset.objects.create(owner=owner, name=name.strip(), multi_label=multi_label)


def dataset_rename(*, dataset: Dataset, name: str) -> Dataset:
    if not name.strip():
        raise ServiceError("a dataset needs a name", "name")
    dataset.name = name.strip()
    dataset.save(update_fields=["name"])
    return dataset


def dataset_delete(*, dataset: Dataset) -> None:
    from webapp.datasets.services.storage import dataset_files_delete
    from webapp.training.models import TrainingJob

    jobs = TrainingJob.objects.filter(version__dataset=dataset).count()
    if jobs:
        # Their models and metrics came from its versions; they are not deleted behind the user's back.
        raise ServiceError(f"{jobs} training job(s) used this dataset's versions; delete them first", "dataset")

    dataset_id = dataset.id
    dataset.delete()
    transaction.on_commit(lambda: dataset_files_delete(dataset_id=dataset_id))


def class_get_or_create(*, dataset: Dataset, name: str) -> LabelClass:
    existing = dataset.classes.filter(name=name).first()
    return existing or class_create(dataset=dataset, name=name)


def class_create(*, dataset: Dataset, name: str, colour: str | None = None) -> LabelClass:
    name = _class_name(name)
    if dataset.classes.filter(name=name).exists():
        raise ServiceError(f"there is already a class named {name!r}", "name")
    if colour is not None and not _is_colour(colour):
        raise ServiceError("a colour is written #rrggbb", "colour")
    order = (dataset.classes.aggregate(m=Max("order"))["m"] or 0) + 1
    return LabelClass.objects.create(dataset=dataset, name=name, order=order,
                                     colour=colour or PALETTE[(order - 1) % len(PALETTE)])


def class_update(*, label_class: LabelClass, name: str | None = None, colour: str | None = None) -> LabelClass:
    if name is not None:
        name = _class_name(name)
        if label_class.dataset.classes.filter(name=name).exclude(id=label_class.id).exists():
            raise ServiceError(f"there is already a class named {name!r}", "name")
        label_class.name = name
    if colour is not None:
        if not _is_colour(colour):
            raise ServiceError("a colour is written #rrggbb", "colour")
        label_class.colour = colour
    label_class.save()
    return label_class


@transaction.atomic
def class_merge(*, source: LabelClass, into: LabelClass) -> LabelClass:
    """Every image of ``source`` gets ``into`` instead, and ``source`` goes away."""
    if source.dataset_id != into.dataset_id or source.id == into.id:
        raise ServiceError("merge into another class of the same dataset", "into")
    for image in source.images.all():
        image.labels.remove(source)
        image.labels.add(into)
    source.delete()
    return into


KEPT_DELETIONS = 20  # per dataset: enough to undo a run of deletions, never a growing pile


@transaction.atomic
def class_delete(*, label_class: LabelClass) -> DeletedClass:
    """Delete the class (its images lose that label) and keep what undoing it needs."""
    dataset = label_class.dataset
    deleted = DeletedClass.objects.create(
        dataset=dataset, name=label_class.name, colour=label_class.colour, order=label_class.order,
        image_ids=list(label_class.images.order_by("id").values_list("id", flat=True)))
    label_class.delete()
    stale = dataset.deleted_classes.values_list("id", flat=True)[KEPT_DELETIONS:]
    DeletedClass.objects.filter(id__in=list(stale)).delete()
    return deleted


@transaction.atomic
def class_restore(*, deleted: DeletedClass) -> tuple[LabelClass, int]:
    """Undo a deletion: the class comes back (or joins one made since under its name) and its images
    that still exist get it again; on a single-label dataset, only those not labeled since. Returns
    the class and how many images it got back."""
    dataset = deleted.dataset
    label_class = dataset.classes.filter(name=deleted.name).first() or LabelClass.objects.create(
        dataset=dataset, name=deleted.name, colour=deleted.colour, order=deleted.order)
    images = dataset.images.filter(id__in=deleted.image_ids)
    if not dataset.multi_label:
        images = images.filter(labels__isnull=True)
    restored = list(images.values_list("id", flat=True))
    label_class.images.add(*restored)
    deleted.delete()
    return label_class, len(restored)
