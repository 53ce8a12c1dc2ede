"""Datasets, their classes and images, and frozen versions that training reads."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from webapp.core.models import LeasedWork


class Dataset(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    multi_label = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.name


class LabelClass(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=200)
    colour = models.CharField(max_length=7, default="#4e79a7")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="unique_class_name")]

    def __str__(self) -> str:
        return self.name


class Split(models.TextChoices):
    UNASSIGNED = "", "unassigned"
    TRAIN = "train", "train"
    VALIDATION = "val", "validation"


class Image(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(max_length=500)  # as uploaded, with its folders
    stored = models.CharField(max_length=300)  # path under MEDIA_ROOT
    thumbnail = models.CharField(max_length=300)
    format = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveBigIntegerField()
    split = models.CharField(max_length=5, choices=Split.choices, default=Split.UNASSIGNED, blank=True)
    labels = models.ManyToManyField(LabelClass, related_name="images", blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["dataset", "sha256"], name="unique_image_content")]


class DatasetVersion(LeasedWork):
    class Status(models.TextChoices):
        QUEUED = "queued"
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    created = models.DateTimeField(auto_now_add=True)
    multi_label = models.BooleanField(default=False)
    class_names = models.JSONField(default=list)  # label index -> name, frozen
    # {"images": {"train": n, "val": m}, "classes": {"train": {name: n}, "val": {name: n}}}
    counts = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Freezing found no validation images and held some out itself (AUTO_SPLIT_RATIO per class, seeded).
    auto_split = models.BooleanField(default=False)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    directory = models.CharField(max_length=300)  # under MEDIA_ROOT
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="unique_version_number")]

    @property
    def num_training_samples(self) -> int:
        return self.counts.get("images", {}).get("train", 0)

    @property
    def split_note(self) -> str:
        """What freezing decided about the split on the user's behalf, in words for the page and the API."""
        if not self.auto_split:
            return ""
        images = self.counts.get("images", {})
        return (f"No validation split was set, so freezing made one: {images.get('val', 0)} of "
                f"{images.get('train', 0) + images.get('val', 0)} images held out for validation, about 20% of "
                f"each class (stratified, seed 0). Use Split on the dataset page to choose another ratio.")


class VersionItem(models.Model):
    """One image as frozen: later relabeling, re-splitting or deleting the image changes nothing here."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="items")
    index = models.PositiveIntegerField()  # the .lst index and RecordIO id
    stored = models.CharField(max_length=300)
    file_name = models.CharField(max_length=500)
    labels = models.JSONField()  # label indices into version.class_names
    split = models.CharField(max_length=5, choices=Split.choices)

    class Meta:
        ordering = ["index"]


class DeletedClass(models.Model):
    """A deleted class kept long enough to undo its deletion: its name, colour and the images it labeled."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="deleted_classes")
    name = models.CharField(max_length=200)
    colour = models.CharField(max_length=7)
    order = models.PositiveIntegerField()
    image_ids = models.JSONField(default=list)
    deleted = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deleted", "-id"]
