"""The scheduler of tuning jobs: it starts trials (ordinary training jobs) up to MaxParallelTrainingJobs with the
hyperparameters Optuna asks for next, records each trial's objective when it ends, keeps the best, stops trials
that fall behind (early stopping), and ends the tuning job Completed, Stopped or Failed.

``tuning_advance`` is the one step, run with the tuning job's row locked so two callers never start the same
trial: when a tuning job is made, when one of its trials ends (webapp/training/running.py), when it is stopped,
and by Celery beat's sweep (webapp/core/tasks.py), so a step missed while a process died is taken later.
It waits for nothing: each call does what can be done now and returns.
"""
from __future__ import annotations

import logging
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from webapp.core.errors import ServiceError
from webapp.training.models import JobEvent, TrainingJob
from webapp.tuning import search
from webapp.tuning.models import Trial, TuningJob

log = logging.getLogger(__name__)
OBJECTIVE = "validation:accuracy"
# A tuning job whose first trials all fail ends Failed with their reason rather than spending its whole budget.
FAILURES_BEFORE_GIVING_UP = 3


def tuning_kick(tuning_id: int) -> None:
    """The first step of a tuning job just committed; a failure is left to beat's sweep, not the request."""
    try:
        tuning_advance(tuning_id)
    except Exception:
        log.exception("starting tuning job %s failed; the sweep tries again", tuning_id)


def tunings_advance_all() -> list[int]:
    """Beat's sweep: one step of every unfinished tuning job."""
    ids = list(TuningJob.objects.filter(status__in=[TuningJob.Status.IN_PROGRESS, TuningJob.Status.STOPPING])
               .values_list("id", flat=True))
    for tuning_id in ids:
        try:
            tuning_advance(tuning_id)
        except Exception:
            log.exception("tuning job %s: a step failed", tuning_id)
    return ids


def trial_ended(job_id: int) -> None:
    """A training job ended: if it is a trial, its tuning job takes its next step."""
    tuning_id = Trial.objects.filter(job_id=job_id).values_list("tuning_id", flat=True).first()
    if tuning_id is not None:
        tuning_advance(tuning_id)


def _curve(job_id: int) -> dict[int, float]:
    """A trial's objective after each epoch (0-based), from its recorded epoch metrics."""
    rows = JobEvent.objects.filter(job_id=job_id, kind=JobEvent.Kind.METRIC, batch__isnull=True,
                                   epoch__isnull=False).values_list("epoch", "data")
    return {epoch: float(data[OBJECTIVE]) for epoch, data in rows if OBJECTIVE in data}


def _past(trial: Trial, *, curve: bool = True) -> search.Past:
    job = trial.job
    if trial.early_stopped:
        state = "pruned"
    elif job.state == TrainingJob.State.SUCCEEDED:
        state = "complete" if trial.objective is not None else "fail"
    elif job.finished_state:
        state = "fail"
    else:
        state = "running"
    return search.Past(trial.number, trial.tuned, _curve(job.id) if curve else {}, state, trial.objective)


def _max_epochs(tuning: TuningJob) -> int:
    return int(float(tuning.static_hyperparameters.get("epochs", 30)))


def _hyperband(tuning: TuningJob) -> dict | None:
    config = (tuning.request.get("HyperParameterTuningJobConfig") or {}).get("StrategyConfig") or {}
    return config.get("HyperbandStrategyConfig")


def search_of(tuning: TuningJob, trials: list[Trial], *, current: int | None = None) -> search.Search:
    return search.Search(tuning_id=tuning.id, strategy=tuning.strategy, ranges=tuning.ranges,
                         max_epochs=_max_epochs(tuning), past=[_past(t) for t in trials], hyperband=_hyperband(tuning),
                         current=current)


def trial_name(tuning: TuningJob, number: int) -> str:
    """SageMaker's name for a tuning job's training job: ``<tuning name>-<3-digit number>-<8 hex>``."""
    return f"{tuning.name}-{number:03d}-{secrets.token_hex(4)}"


def _hyperband_epochs(tuning: TuningJob, hyperparameters: dict[str, str]) -> dict[str, str]:
    """``epochs`` cut to Hyperband's MaxResource where it is smaller ("once a job reaches the MaxResource
    value, it is stopped", AWS): the trial trains that many epochs and ends with its model."""
    if tuning.strategy != TuningJob.Strategy.HYPERBAND:
        return {}
    _, max_resource = search.hyperband_resources(_hyperband(tuning), _max_epochs(tuning))
    return {"epochs": str(max_resource)} if max_resource < int(float(hyperparameters.get("epochs", 30))) else {}


def _start(tuning: TuningJob, number: int, tuned: dict[str, str]) -> TrainingJob:
    capped = _hyperband_epochs(tuning, {**tuning.static_hyperparameters, **tuned})
    hyperparameters = {**tuning.static_hyperparameters, **tuned, **capped}
    if tuning.version_id:
        from webapp.training.services import job_create

        return job_create(owner=tuning.owner, version=tuning.version, hyperparameters=hyperparameters)
    from webapp.sagemaker.training_jobs import api_job_create

    definition = dict(tuning.request["TrainingJobDefinition"])
    static = definition.pop("StaticHyperParameters", None) or {}
    definition.pop("HyperParameterRanges", None)
    request = {**definition, "TrainingJobName": trial_name(tuning, number), "HyperParameters": hyperparameters}
    # DescribeTrainingJob echoes what SageMaker would have sent the trial: the SDK's own keys among them.
    kept = {**request, "HyperParameters": {**static, **tuned, **capped}}
    return api_job_create(user=tuning.owner, region=tuning.region, request=request, kept_request=kept)


def _record_objectives(trials: list[Trial]) -> None:
    for trial in trials:
        job = trial.job
        if trial.objective is None and job.state == TrainingJob.State.SUCCEEDED:
            value = (job.kept_metrics or job.metrics or {}).get(OBJECTIVE)
            if value is not None:
                trial.objective = float(value)
                Trial.objects.filter(id=trial.id).update(objective=trial.objective)


def _best(trials: list[Trial]) -> Trial | None:
    scored = [t for t in trials if t.objective is not None and t.job.state == TrainingJob.State.SUCCEEDED]
    return max(scored, key=lambda t: (t.objective, -t.number)) if scored else None


def _end(tuning: TuningJob, status: str, reason: str = "") -> None:
    tuning.status, tuning.reason, tuning.finished = status, reason, timezone.now()


def tuning_advance(tuning_id: int) -> str:
    """One step of the tuning job; its status after it."""
    from webapp.tuning.notices import tuning_changed

    with transaction.atomic():
        tuning = TuningJob.objects.select_for_update(of=("self",)).select_related("owner", "version").filter(id=tuning_id).first()
        if tuning is None or tuning.finished_state:
            return tuning.status if tuning else "deleted"
        trials = list(tuning.trials.select_related("job").order_by("number"))
        _record_objectives(trials)
        best = _best(trials)
        tuning.best_job = best.job if best else None
        running = [t for t in trials if not t.job.finished_state]
        if tuning.status == TuningJob.Status.STOPPING:
            _stop_trials(running)
            if not any(not t.job.finished_state for t in running):
                _end(tuning, TuningJob.Status.STOPPED, "stopped by its owner")
        else:
            _schedule(tuning, trials, running)
        tuning.save()
        transaction.on_commit(lambda: tuning_changed(tuning_id))
    return tuning.status


def _stop_trials(running: list[Trial]) -> None:
    from webapp.training.services import job_cancel

    for trial in running:
        if not trial.job.cancel_requested:
            try:
                trial.job = job_cancel(job=trial.job)
            except ServiceError:
                trial.job.refresh_from_db()  # it ended meanwhile


def _schedule(tuning: TuningJob, trials: list[Trial], running: list[Trial]) -> None:
    """Start what the budget and MaxParallelTrainingJobs allow, or end the tuning job when nothing is left."""
    failed = [t for t in trials if t.job.state == TrainingJob.State.FAILED]
    succeeded = [t for t in trials if t.job.state == TrainingJob.State.SUCCEEDED]
    if not succeeded and len(failed) >= min(FAILURES_BEFORE_GIVING_UP, tuning.max_jobs):
        _stop_trials(running)
        _end(tuning, TuningJob.Status.FAILED, f"{len(failed)} training jobs failed and none completed; the last: "
                                              f"{failed[-1].job.reason or 'no reason given'}")
        return
    study = search_of(tuning, trials)
    free = min(tuning.max_parallel - len(running), tuning.max_jobs - len(trials))
    started = 0
    while started < free and not study.exhausted():
        number = len(trials) + started
        tuned = study.ask()
        try:
            with transaction.atomic():
                job = _start(tuning, number, tuned)
                Trial.objects.create(tuning=tuning, job=job, number=number, tuned=tuned)
        except IntegrityError:  # another step started this number meanwhile (no row lock on SQLite)
            return
        except Exception as error:  # the data or its bucket went away since the tuning job was made
            reason = getattr(error, "message", None) or str(error)
            log.warning("tuning job %s: starting trial %s failed: %s", tuning.id, number, reason)
            _stop_trials(running)
            _end(tuning, TuningJob.Status.FAILED, f"training job {number + 1} could not start: {reason}")
            return
        started += 1
    if started or running:
        return
    if succeeded:
        _end(tuning, TuningJob.Status.COMPLETED)
    else:
        _end(tuning, TuningJob.Status.FAILED, "no training job completed" + (
            f"; the last failure: {failed[-1].job.reason}" if failed else ""))


# --- early stopping, in the training worker ----------------------------------------------------------------


class EarlyStopping:
    """A training handler for a trial of a tuning job with early stopping on: after each epoch, Optuna's pruner
    (the median rule; Hyperband's rungs) judges the trial against the others' epochs; one that falls behind is
    marked early-stopped and cancelled, to stop within a batch as any cancelled job does."""

    def __init__(self, job: TrainingJob, trial: Trial):
        self.job, self.trial = job, trial

    @classmethod
    def for_job(cls, job: TrainingJob) -> EarlyStopping | None:
        trial = Trial.objects.filter(job_id=job.id).select_related("tuning", "job").first()
        if trial is None or not (trial.tuning.early_stopping or trial.tuning.strategy == TuningJob.Strategy.HYPERBAND):
            return None
        return cls(job, trial)

    def __call__(self, event) -> None:
        from classifier.events import EpochEnd

        if not isinstance(event, EpochEnd) or OBJECTIVE not in event.metrics:
            return
        try:
            if self._behind(event.epoch):
                self._stop(event.epoch)
        except Exception:  # a judgement that fails must not fail the training
            log.warning("job %s: the early-stopping check failed", self.job.id, exc_info=True)

    def _behind(self, epoch: int) -> bool:
        tuning = TuningJob.objects.get(id=self.trial.tuning_id)
        trials = list(tuning.trials.select_related("job").order_by("number"))
        study = search_of(tuning, trials, current=self.trial.number)
        return study.should_prune(_past(self.trial), epoch)

    def _stop(self, epoch: int) -> None:
        Trial.objects.filter(id=self.trial.id).update(early_stopped=True)
        TrainingJob.objects.filter(id=self.job.id).update(cancel_requested=True)
        log.info("job %s: stopped early by its tuning job after epoch %d", self.job.id, epoch + 1)


def early_stop_reason(job_id: int) -> str | None:
    """Why a trial the tuner stopped ended, in place of a user's cancel's words."""
    trial = Trial.objects.filter(job_id=job_id, early_stopped=True).select_related("tuning", "job").first()
    if trial is None:
        return None
    return (f"stopped early by tuning job {trial.tuning.name} after epoch {trial.job.epoch + 1}: its validation "
            "accuracy fell behind the other trials' at the same epoch")
