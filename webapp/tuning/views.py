"""Pages: the Tune form of a dataset version, a tuning job's live page, and the list of a user's tuning jobs."""
from __future__ import annotations

import math

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webapp.core.errors import ServiceError
from webapp.datasets import selectors as dataset_selectors
from webapp.training import selectors as training_selectors
from webapp.training.presets import DEFAULT as DEFAULT_PRESET
from webapp.training.presets import spoken
from webapp.tuning import selectors
from webapp.tuning.forms import TuningForm, default_name


def shared_hyperparameters(*, version) -> tuple[dict[str, str], dict, object]:
    """What every trial shares: the training form's default preset fitted to this version and these workers."""
    presets, devices, shape = training_selectors.training_presets(version=version)
    return next(p for p in presets if p.name == DEFAULT_PRESET).hyperparameters, devices, shape


def tune_form(request, version_id: int):
    version = dataset_selectors.version_get(user=request.user, version_id=version_id)
    static, devices, shape = shared_hyperparameters(version=version)
    taken = set(selectors.tuning_list(user=request.user).values_list("name", flat=True))
    form = TuningForm(request.POST or None, train=shape.train, version_number=version.number, static=static,
                      initial={"name": default_name(version=version, taken=taken)})
    if request.method == "POST" and form.is_valid():
        from webapp.tuning import services  # the engine's writes

        data = form.cleaned_data
        try:
            tuning = services.tuning_create(
                owner=request.user, name=data["name"], strategy=data["strategy"], ranges=form.ranges(),
                static_hyperparameters=form.static_hyperparameters(), max_jobs=data["max_jobs"],
                max_parallel=data["max_parallel"], early_stopping=data["early_stopping"], version=version)
        except ServiceError as error:
            for name, message in error.by_field().items():
                form.add_error(form.field_for(name), message)
        else:
            return redirect("tuning-detail", tuning_id=tuning.id)
    return render(request, "tuning/form.html", {
        "version": version, "form": form, "devices": devices, "fitted_to": shape,
        "estimate": _estimate(version=version, form=form, static=static, device=devices["device"]),
    })


def _estimate(*, version, form, static: dict[str, str], device: str) -> dict | None:
    """How long one trial and the whole search take with the values shown (typed ones when posted)."""
    shown = {name: str(form[f"static_{name}"].value() or "") for name in static}
    one = training_selectors.duration_estimate(version=version, hyperparameters=shown, device=device)
    try:
        jobs, parallel = int(form["max_jobs"].value()), int(form["max_parallel"].value())
    except (TypeError, ValueError):
        return None
    if one is None or jobs < 1 or parallel < 1:
        return None
    rounds = math.ceil(jobs / min(parallel, jobs))
    return {"trial": spoken(one[0]), "all": spoken(one[0] * rounds), "basis": one[1], "jobs": jobs,
            "parallel": min(parallel, jobs)}


def tuning_list(request):
    tunings = list(selectors.tuning_list(user=request.user))
    return render(request, "tuning/list.html", {
        "tunings": [(t, selectors.tuning_summary(tuning=t)) for t in tunings],
    })


def tuning_detail(request, tuning_id: int):
    tuning = selectors.tuning_get(user=request.user, tuning_id=tuning_id)
    summary = selectors.tuning_summary(tuning=tuning)
    return render(request, "tuning/detail.html", {"tuning": tuning, "summary": summary})


@require_POST
def tuning_stop(request, tuning_id: int):
    from webapp.tuning import services

    tuning = selectors.tuning_get(user=request.user, tuning_id=tuning_id)
    try:
        services.tuning_stop(tuning=tuning)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Stopping: the trials still training stop within a batch; what finished stays.")
    return redirect("tuning-detail", tuning_id=tuning_id)
