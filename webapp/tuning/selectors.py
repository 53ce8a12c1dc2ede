"""Reads about tuning jobs: the one summary that the tuning job's page, its notices and the JSON API draw,
so the three never disagree about a trial."""
from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse

from webapp.training.models import TrainingJob
from webapp.tuning.models import Trial, TuningJob

RANGE_KINDS = ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")


def tuning_get(*, user, tuning_id: int) -> TuningJob:
    return get_object_or_404(TuningJob, id=tuning_id, owner=user)


def tuning_list(*, user) -> QuerySet[TuningJob]:
    return TuningJob.objects.filter(owner=user).select_related("version__dataset", "best_job")


def tuned_names(ranges: dict) -> list[str]:
    """The hyperparameters a tuning job searches, in the order its ranges name them."""
    return [entry["Name"] for kind in RANGE_KINDS for entry in (ranges or {}).get(kind, [])]


def log_scaled(ranges: dict) -> list[str]:
    """The tuned hyperparameters searched on a logarithmic scale, so the scatter draws them on one."""
    return [entry["Name"] for kind in RANGE_KINDS[:2] for entry in (ranges or {}).get(kind, [])
            if entry.get("ScalingType") in ("Logarithmic", "ReverseLogarithmic")]


def trial_state(trial: Trial) -> str:
    """The job's state, except that a trial the tuner stopped says so rather than "cancelled"."""
    if trial.early_stopped:
        return "early stopped"
    return trial.job.state


def objective_of(trial: Trial) -> float | None:
    """The trial's final objective; a succeeded job's kept figure until the tuner has recorded one."""
    if trial.objective is not None:
        return trial.objective
    if trial.job.state == TrainingJob.State.SUCCEEDED:
        return trial.job.shown_metrics.get("validation:accuracy")
    return None


def trial_summary(trial: Trial) -> dict:
    job = trial.job
    running = job.metrics.get("validation:accuracy") if not job.finished_state else None
    return {
        "number": trial.number, "job": job.id, "job_name": job.name,
        "job_url": reverse("job-detail", args=[job.id]),
        "state": trial_state(trial), "job_state": job.state, "reason": job.reason if job.state == "failed" else "",
        "tuned": trial.tuned, "objective": objective_of(trial),
        # The last epoch's figure of a trial still training: drawn apart from the final ones.
        "current": running, "progress": job.progress, "early_stopped": trial.early_stopped,
    }


def status_counts(trials: list[dict]) -> dict:
    """SageMaker's TrainingJobStatusCounters, in words a page shows, plus the trials stopped early."""
    counts = {"total": len(trials), "completed": 0, "in_progress": 0, "stopped": 0, "failed": 0, "early_stopped": 0}
    for trial in trials:
        state = trial["job_state"]
        if state == TrainingJob.State.SUCCEEDED:
            counts["completed"] += 1
        elif state in (TrainingJob.State.QUEUED, TrainingJob.State.RUNNING):
            counts["in_progress"] += 1
        elif state == TrainingJob.State.FAILED:
            counts["failed"] += 1
        else:
            counts["stopped"] += 1
        counts["early_stopped"] += trial["early_stopped"]
    return counts


def best_model(job: TrainingJob | None) -> dict | None:
    """The registered model a tuning job's best trial made, if it made one yet."""
    model = getattr(job, "model", None) if job else None
    if model is None:
        return None
    return {"id": model.id, "name": model.name, "url": reverse("model-detail", args=[model.id])}


def tuning_summary(*, tuning: TuningJob, with_trials: bool = True) -> dict:
    """Everything a page shows of a tuning job: status, counts, the best trial and each trial."""
    trials = [trial_summary(t) for t in tuning.trials.select_related("job", "job__model").order_by("number")]
    best = next((t for t in trials if t["job"] == tuning.best_job_id), None)
    version = tuning.version
    summary = {
        "id": tuning.id, "name": tuning.name, "status": tuning.status, "reason": tuning.reason,
        "finished": tuning.finished_state, "strategy": tuning.strategy, "objective": tuning.objective,
        "max_jobs": tuning.max_jobs, "max_parallel": tuning.max_parallel, "early_stopping": tuning.early_stopping,
        "version": version.id if version else None,
        "version_name": f"{version.dataset.name} v{version.number}" if version else "",
        "url": reverse("tuning-detail", args=[tuning.id]),
        "tuned_names": tuned_names(tuning.ranges), "log_scaled": log_scaled(tuning.ranges),
        "ranges": tuning.ranges, "static_hyperparameters": tuning.static_hyperparameters,
        "counts": status_counts(trials), "best": best,
        "best_model": best_model(tuning.best_job) if tuning.best_job_id else None,
        "created": tuning.created.isoformat() if tuning.created else None,
        "last_modified": tuning.last_modified.isoformat() if tuning.last_modified else None,
        "ended": tuning.finished.isoformat() if tuning.finished else None,
    }
    if with_trials:
        summary["trials"] = trials
    return summary

