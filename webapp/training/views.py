"""Pages: the training form, the queue, and a job's live dashboard."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from webapp.core.errors import ServiceError
from webapp.datasets import selectors as dataset_selectors
from webapp.training import selectors, services
from classifier.hyperparameters import SCHEMA
from webapp.training.forms import HIDDEN, TrainingForm, shown_default
from webapp.training.presets import DEFAULT as DEFAULT_PRESET
from webapp.training.presets import spoken


def train_form(request, version_id: int):
    version = dataset_selectors.version_get(user=request.user, version_id=version_id)
    bases = selectors.base_models(user=request.user)
    presets, devices, shape = selectors.training_presets(version=version)
    default = next(p for p in presets if p.name == DEFAULT_PRESET)
    initial = {**default.hyperparameters, "mode": "full", "preset": default.name, "fields_from": default.name}
    if request.GET.get("clone"):
        source = selectors.job_get(user=request.user, job_id=int(request.GET["clone"]))
        initial = {**source.hyperparameters, "mode": source.mode, "preset": "", "fields_from": ""}
    form = TrainingForm(request.POST or None, request.FILES or None, initial=initial, presets=presets,
                        base_models=bases)
    if request.method == "POST" and form.is_valid():
        try:
            base = ""
            if form.cleaned_data["mode"] == "incremental" and form.cleaned_data.get("base_upload"):
                base = services.base_model_store(owner=request.user, upload=form.cleaned_data["base_upload"])
            elif form.cleaned_data["mode"] == "incremental" and form.cleaned_data.get("base_model"):
                base = selectors.job_get(user=request.user, job_id=form.cleaned_data["base_model"]).artifact
            job = services.job_create(owner=request.user, version=version, hyperparameters=form.hyperparameters(),
                                      mode=form.cleaned_data["mode"], base_artifact=base)
        except services.InvalidHyperparameters as error:
            for name, message in error.problems.items():
                form.add_error(name if name in form.fields else None, message)
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return redirect("job-detail", job_id=job.id)
    shown = {name: form[name].value() or "" for name in ("num_layers", "image_shape", "epochs")}
    return render(request, "training/form.html", {
        "version": version, "form": form, "presets": presets, "devices": devices,
        "estimate": _spoken(selectors.duration_estimate(version=version, hyperparameters=shown, device=devices["device"])),
        "pretrained_depths": services.pretrained_depths(),
        "preset_values": {p.name: p.hyperparameters for p in presets},
        "defaults": {name: shown_default(name) for name in SCHEMA if name not in HIDDEN},
        "base_architectures": {job.id: {"num_layers": job.hyperparameters.get("num_layers", ""),
                                        "image_shape": job.hyperparameters.get("image_shape", "")} for job in bases},
        "fitted_to": shape,
    })


def _spoken(estimate):
    return (spoken(estimate[0]), estimate[1]) if estimate else None


def job_list(request):
    jobs = selectors.job_list(user=request.user)
    active = [j for j in jobs if not j.finished_state]
    return render(request, "training/queue.html", {"active": active, "finished": [j for j in jobs if j.finished_state]})


def job_detail(request, job_id: int):
    job = selectors.job_get(user=request.user, job_id=job_id)
    return render(request, "training/job.html", {
        "job": job, "epochs": job.planned_epochs, "queue": selectors.queue_place(job=job),
        "hyperparameters": sorted(job.hyperparameters.items()),
        "checkpoint": selectors.kept_checkpoint(job=job) if job.state == job.State.CANCELLED else None,
    })


def _job_action(request, job_id: int, action, done: str):
    try:
        action(job=selectors.job_get(user=request.user, job_id=job_id))
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        if done:
            messages.success(request, done)
    return redirect("job-detail", job_id=job_id)


@require_POST
def job_cancel(request, job_id: int):
    return _job_action(request, job_id, services.job_cancel, "")


@require_POST
def job_resume(request, job_id: int):
    return _job_action(request, job_id, services.job_resume, "Back in the queue: it continues after its last finished epoch.")


@require_POST
def job_model_make(request, job_id: int):
    return _job_action(request, job_id, services.job_model_make,
                       "A worker makes the model of the kept epoch; it appears here and under Models.")


def job_compare(request):
    """Several runs overlaid, with the hyperparameters in which they differ."""
    ids = [int(i) for i in request.GET.getlist("ids") if i.isdigit()]
    jobs = [selectors.job_get(user=request.user, job_id=i) for i in ids]
    names = sorted({name for job in jobs for name in job.hyperparameters})
    differing = [(name, [job.hyperparameters.get(name, "") for job in jobs]) for name in names
                 if len({job.hyperparameters.get(name, "") for job in jobs}) > 1]
    return render(request, "training/compare.html", {"jobs": jobs, "differing": differing})
