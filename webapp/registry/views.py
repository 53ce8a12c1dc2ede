"""Pages: the models, one model with its prediction panel and batch transforms, one transform."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webapp.core.errors import ServiceError
from webapp.registry import selectors, services


class ImportForm(forms.Form):
    artifact = forms.FileField(label="model.tar.gz", help_text="trained by SageMaker's image-classification "
                                                               "algorithm or by IC Studio")
    name = forms.CharField(required=False, max_length=63, help_text="its endpoint name; from the file name if empty")


class TransformForm(forms.Form):
    input = forms.FileField(label="Images", help_text="a .zip of JPEG/PNG images, or a .rec")
    lst = forms.FileField(required=False, label=".lst", help_text="with a .rec: names each line by its file")


def model_list(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            model = services.model_import(owner=request.user, upload=form.cleaned_data["artifact"],
                                          name=form.cleaned_data["name"])
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(request, f"Imported {model.name}; a worker is checking its weights.")
            return redirect("model-detail", model_id=model.id)
    return render(request, "registry/list.html", {"models": selectors.model_list(user=request.user), "form": form})


def model_detail(request, model_id: int):
    model = selectors.model_get(user=request.user, model_id=model_id)
    form = TransformForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            transform = services.transform_create(owner=request.user, model=model, upload=form.cleaned_data["input"],
                                                  lst_upload=form.cleaned_data.get("lst"))
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return redirect("transform-detail", transform_id=transform.id)
    from webapp.sagemaker.endpoint_states import serving

    evaluation = getattr(model.job, "evaluation", None) if model.job_id else None
    return render(request, "registry/detail.html", {
        "model": model, "form": form, "transforms": model.transforms.all()[:20], "endpoints": serving(model),
        "evaluation": evaluation.data if evaluation else None,
        "endpoint_url": request.build_absolute_uri("/").rstrip("/"),
    })


@require_POST
def model_delete(request, model_id: int):
    model = selectors.model_get(user=request.user, model_id=model_id)
    try:
        services.model_delete(model=model)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("model-detail", model_id=model_id)
    messages.success(request, f"Deleted model {model.name}.")
    return redirect("model-list")


@require_POST
def model_default(request, model_id: int):
    model = selectors.model_get(user=request.user, model_id=model_id)
    services.model_update(model=model, is_default=True)
    messages.success(request, f"POST /invocations now answers with {model.name}.")
    return redirect("model-detail", model_id=model_id)


def transform_detail(request, transform_id: int):
    transform = selectors.transform_get(user=request.user, transform_id=transform_id)
    return render(request, "registry/transform.html", {"transform": transform})


@require_POST
def transform_cancel(request, transform_id: int):
    transform = selectors.transform_get(user=request.user, transform_id=transform_id)
    try:
        services.transform_cancel(transform=transform)
    except ServiceError as error:
        messages.error(request, str(error))
    return redirect("transform-detail", transform_id=transform_id)
