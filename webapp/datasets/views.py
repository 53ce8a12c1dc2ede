"""Pages. Writes go through the services; the labeling grid and uploads talk to the JSON API."""
from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from webapp.core import media
from webapp.core.errors import ServiceError
from webapp.datasets import selectors
from webapp.datasets.models import Image
from webapp.datasets.services import classes as class_services
from webapp.datasets.services import labeling, versions
from webapp.training import selectors as training_selectors


def dataset_list(request):
    if request.method == "POST":
        try:
            dataset = class_services.dataset_create(owner=request.user, name=request.POST.get("name", ""),
                                                    multi_label=request.POST.get("multi_label") == "on")
        except ServiceError as error:
            messages.error(request, str(error))
            return redirect("dataset-list")
        return redirect("dataset-detail", dataset_id=dataset.id)
    return render(request, "datasets/list.html", {"datasets": selectors.dataset_list(user=request.user)})


def dataset_detail(request, dataset_id: int):
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    classes = list(selectors.class_list(dataset=dataset))
    splits = selectors.split_counts(dataset=dataset)
    splits["unassigned"] = splits.pop("")
    dataset_versions = list(dataset.versions.all())
    for version in dataset_versions:  # listed with the page; a build's later files come in its notices
        version.file_names = sorted(versions.version_files(version))
    return render(request, "datasets/detail.html", {
        "dataset": dataset,
        "classes": classes,
        "splits": splits,
        "image_count": dataset.images.count(),
        "unlabeled": selectors.unlabeled_count(dataset=dataset),
        "versions": dataset_versions,
        # Right after a class is deleted, its notice offers to undo it.
        "undo": selectors.deleted_class_find(dataset=dataset, deleted_id=request.GET.get("deleted")),
        "jobs": training_selectors.jobs_of_dataset(dataset=dataset)[:20],
    })


def dataset_delete(request, dataset_id: int):
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    if request.method == "POST":
        try:
            class_services.dataset_delete(dataset=dataset)
        except ServiceError as error:
            messages.error(request, str(error))
            return redirect("dataset-detail", dataset_id=dataset.id)
        messages.success(request, f"Deleted {dataset.name}.")
        return redirect("dataset-list")
    return render(request, "datasets/confirm_delete.html", {"dataset": dataset, "image_count": dataset.images.count()})


def _act(request, dataset_id: int, action) -> object:
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    try:
        action(dataset)
    except ServiceError as error:
        messages.error(request, str(error))
    return redirect("dataset-detail", dataset_id=dataset.id)


@require_POST
def dataset_rename(request, dataset_id: int):
    return _act(request, dataset_id, lambda d: class_services.dataset_rename(dataset=d, name=request.POST.get("name", "")))


@require_POST
def class_add(request, dataset_id: int):
    return _act(request, dataset_id, lambda d: class_services.class_create(dataset=d, name=request.POST.get("name", "")))


@require_POST
def class_edit(request, dataset_id: int, class_id: int):
    if request.POST.get("operation") == "delete":
        return _class_delete(request, dataset_id, class_id)

    def action(dataset):
        label_class = selectors.class_get(dataset=dataset, class_id=class_id)
        operation = request.POST.get("operation")
        if operation == "merge":
            into = selectors.class_get(dataset=dataset, class_id=int(request.POST.get("into") or 0))
            class_services.class_merge(source=label_class, into=into)
        else:
            class_services.class_update(label_class=label_class, name=request.POST.get("name"),
                                        colour=request.POST.get("colour"))

    return _act(request, dataset_id, action)


def _class_delete(request, dataset_id: int, class_id: int):
    """Deleting asks first (the page's script asks in a dialog and sends ``confirmed``; without
    script this page asks), then the notice on the dataset page offers Undo."""
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    label_class = selectors.class_get(dataset=dataset, class_id=class_id)
    if request.POST.get("confirmed") != "1":
        return render(request, "datasets/confirm_class_delete.html", {
            "dataset": dataset, "label_class": label_class, "image_count": label_class.images.count()})
    deleted = class_services.class_delete(label_class=label_class)
    return redirect(f"{reverse('dataset-detail', args=[dataset.id])}?deleted={deleted.id}")


@require_POST
def class_restore(request, dataset_id: int, deleted_id: int):
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    deleted = selectors.deleted_class_get(dataset=dataset, deleted_id=deleted_id)
    label_class, restored = class_services.class_restore(deleted=deleted)
    messages.success(request, f"Class {label_class.name} is back; {restored} image(s) have it again.")
    return redirect("dataset-detail", dataset_id=dataset.id)


@require_POST
def split(request, dataset_id: int):
    def action(dataset):
        try:
            ratio = float(request.POST.get("train_ratio", "0.8"))
            seed = int(request.POST.get("seed", "0"))
        except ValueError:
            raise ServiceError("train ratio and seed must be numbers") from None
        counts = labeling.split_assign(dataset=dataset, train_ratio=ratio, seed=seed,
                                       stratified=request.POST.get("stratified", "on") == "on")
        messages.success(request, f"Split: {counts['train']} train, {counts['val']} validation.")

    return _act(request, dataset_id, action)


@require_POST
def freeze(request, dataset_id: int):
    def action(dataset):
        version = versions.version_freeze(dataset=dataset)
        messages.success(request, f"Version {version.number} frozen; its files are being built.")
        if version.auto_split:
            messages.info(request, version.split_note)

    return _act(request, dataset_id, action)


def _image(request, dataset_id: int, image_id: int) -> Image:
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    return get_object_or_404(Image, id=image_id, dataset=dataset)


def image_file(request, dataset_id: int, image_id: int, kind: str):
    image = _image(request, dataset_id, image_id)
    path = media.absolute(image.thumbnail if kind == "thumbnail" else image.stored)
    if not path.exists():
        raise Http404
    response = FileResponse(open(path, "rb"), content_type="image/jpeg" if kind == "thumbnail" or
                            image.format == "JPEG" else "image/png")
    response["Cache-Control"] = "private, max-age=86400"  # content-addressed: never changes
    return response


def version_detail(request, version_id: int):
    version = selectors.version_get(user=request.user, version_id=version_id)
    return render(request, "datasets/version.html", {"version": version, "files": sorted(versions.version_files(version))})
