"""Running a job in a worker. It and the registry's worker-side runs (webapp/registry/running.py), which
load models, are the web app's modules that reach MXNet, lazily and only in Celery workers."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from classifier.events import Log
from webapp.core import media
from webapp.core.leases import JOBS, Lease, claim, holds
from webapp.training.models import TrainingJob
from webapp.training.recording import JobRecorder, shown

log = logging.getLogger(__name__)
CANCEL_POLL_SECONDS = 1.0


def _cancel_check(job_id: int, lease: Lease, deadline: float | None = None):
    """``deadline``: epoch seconds at which an API job's MaxRuntimeInSeconds runs out and it is stopped."""
    state = {"checked": 0.0, "cancel": False}

    def should_stop() -> bool:
        if lease.lost.is_set():  # taken for dead and given to another worker: this one stops
            return True
        if deadline is not None and time.time() > deadline:
            from webapp.sagemaker.stages import max_runtime_exceeded

            max_runtime_exceeded(job_id)
            return True
        now = time.monotonic()
        if now - state["checked"] >= CANCEL_POLL_SECONDS:
            state["checked"] = now
            state["cancel"] = TrainingJob.objects.filter(id=job_id, cancel_requested=True).exists()
        return state["cancel"]

    return should_stop


def _finish(job: TrainingJob, recorder: JobRecorder, state: str, reason: str = "", *, lease: str | None = None,
            **fields) -> bool:
    """End the job once: only the claim holding it (``lease``; else a job no worker holds) moves it to
    ``state`` and says so, so a redelivery or a worker taken for dead that reaches the end says nothing."""
    reason = shown(reason)
    rows = TrainingJob.objects.filter(id=job.id)
    rows = rows.filter(state=TrainingJob.State.RUNNING, lease=lease) if lease else rows.filter(
        state=TrainingJob.State.QUEUED)
    if not rows.update(state=state, reason=reason, finished=timezone.now(), **fields):
        return False
    recorder.state(state, reason)
    _tuning_step(job.id)
    return True


def _tuning_step(job_id: int) -> None:
    """A trial's end is its tuning job's cue to start the next; a failure there is beat's sweep's to retry,
    never this job's."""
    from webapp.tuning.running import trial_ended

    try:
        trial_ended(job_id)
    except Exception:
        log.exception("job %s: its tuning job's next step failed; the sweep tries again", job_id)


def _cancelled_reason(job_id: int) -> str:
    from webapp.tuning.running import early_stop_reason

    stopped_early = early_stop_reason(job_id)
    if stopped_early:
        return stopped_early
    job = TrainingJob.objects.get(id=job_id)
    if job.epoch < 0:
        return "cancelled during the first epoch: no epoch finished, so there is nothing to keep"
    return (f"cancelled after epoch {job.epoch + 1} of {job.planned_epochs}; its checkpoint is kept: resume the "
            "job, or make a model of what it learnt so far")


def kept_because(job: TrainingJob, hp, result) -> tuple[int | None, dict, str]:
    """The epoch the model holds (1-based), its figures and why it is that one, in the user's words:
    "epoch 7 of 10: best validation accuracy"."""
    kept = result.best_epoch
    if kept is None:
        return None, {}, ""
    row = next((r for r in result.history if r["epoch"] == kept - 1), result.history[-1])
    figures = {k: v for k, v in row.items() if k not in ("epoch", "time")}
    run = len(result.history)
    if hp.checkpoint_frequency:
        why = f"the last epoch kept (checkpoint_frequency {hp.checkpoint_frequency} keeps every {hp.checkpoint_frequency}th)"
    else:
        why = "best validation accuracy"
    notes = []
    if result.stopped_early:
        patience = hp.early_stopping_patience
        notes.append(f"stopped early: no gain for {patience} epoch{'s' if patience > 1 else ''}")
    if job.final_epochs:
        notes.append(f"cancelled after epoch {run} of {int(job.hyperparameters.get('epochs', 30))}")
    return kept, figures, f"epoch {kept} of {run}: {why}" + (f" ({'; '.join(notes)})" if notes else "")


def job_run(*, job_id: int, worker: str) -> str:
    """Train (or resume) job ``job_id``. Idempotent: a finished job is left as it is, and a job another
    worker holds alive is left to it (a duplicate delivery)."""
    from classifier.training import default_contexts

    job = TrainingJob.objects.select_related("version__dataset").get(id=job_id)
    devices = ",".join(f"{ctx.device_type}{ctx.device_id}" if ctx.device_type == "gpu" else "cpu"
                       for ctx in default_contexts())
    worker = f"{worker} [{devices}]"  # which machine and which GPUs, for the queue page
    if job.finished_state:
        return job.state
    recorder = JobRecorder(job)
    if job.cancel_requested and job.state == TrainingJob.State.QUEUED:
        _finish(job, recorder, TrainingJob.State.CANCELLED, "cancelled before it started")
        return TrainingJob.State.CANCELLED
    resuming = job.started is not None
    token = claim(JOBS, job.id, worker=worker, started=job.started or timezone.now())
    if not token:
        return "running elsewhere"
    if job.final_epochs:
        started = f"making the model from the checkpoint of epoch {job.final_epochs} on {worker}"
    else:
        started = f"resumed on {worker}" if resuming else f"started on {worker}"
    recorder.state(TrainingJob.State.RUNNING, started)
    # The lease is kept until the job is finished, evaluation and registration included: a worker
    # evaluating is alive, and must not be taken for dead and its job run a second time.
    with Lease(JOBS, job.id, token) as lease:
        return _train_and_finish(job, recorder, lease)


def _train_and_finish(job: TrainingJob, recorder: JobRecorder, lease: Lease) -> str:
    from classifier.errors import ClassifierError, TrainingCancelled
    from classifier.hyperparameters import parse_hyperparameters
    from classifier.training import train

    from webapp.sagemaker import stages

    token = lease.token
    job.refresh_from_db()
    api = stages.api_job_of(job)  # made through SageMaker's API: its data comes from S3, its model goes there
    try:
        hp = parse_hyperparameters(job.hyperparameters)
        if job.final_epochs:
            # No epoch runs any more: the loop writes the model from the weights kept so far. A
            # checkpoint_frequency beyond the new end would be refused, and saves nothing now anyway.
            hp = hp.replace(epochs=str(job.final_epochs),
                            checkpoint_frequency=str(min(hp.checkpoint_frequency, job.final_epochs))
                            if hp.checkpoint_frequency else None)
        inputs = stages.download(job, api, hp) if api else _version_inputs(job)
        deadline = stages.max_runtime_deadline(job, api)
        if api:
            stages.enter(job.id, "Training")
        result = train(
            hp,
            train_rec=inputs.train_rec,
            validation_rec=inputs.validation_rec,
            model_dir=media.job_dir(job),
            work_dir=media.job_work_dir(job),
            class_names=job.version.class_names if job.version_id else None,
            base_model=inputs.base_model,
            model_store=Path(settings.MODEL_STORE),
            handlers=[recorder, *_tuning_handlers(job)],
            should_stop=_cancel_check(job.id, lease, deadline),
            resize=None if inputs.packed else hp.resize,
        )
    except TrainingCancelled:
        if lease.lost.is_set():
            return "taken over by another worker"
        _finish(job, recorder, TrainingJob.State.CANCELLED, _cancelled_reason(job.id), lease=token)
        return TrainingJob.State.CANCELLED
    except ClassifierError as error:
        _finish(job, recorder, TrainingJob.State.FAILED, str(error), lease=token)
        return TrainingJob.State.FAILED
    except OSError as error:  # a version's or a model's file gone or unreadable: the user's data, not a bug
        log.warning("job %s failed", job.id, exc_info=True)
        _finish(job, recorder, TrainingJob.State.FAILED, f"cannot read {error.filename or 'a file'}: "
                                                         f"{error.strerror or error}", lease=token)
        return TrainingJob.State.FAILED
    except Exception as error:
        log.exception("job %s failed", job.id)
        _finish(job, recorder, TrainingJob.State.FAILED, f"{type(error).__name__}: {error}", lease=token)
        raise
    # Only the worker holding the job evaluates it, registers its model and says it succeeded.
    if not holds(JOBS, job.id, token):
        return "taken over by another worker"
    artifact = f"{job.directory}/{media.ARTIFACT_NAME}"
    _evaluate(job, media.absolute(artifact), inputs.validation_rec, recorder)
    if not holds(JOBS, job.id, token):  # taken for dead while evaluating: the other worker registers it
        return "taken over by another worker"
    from webapp.registry.services import model_register_trained

    kept_epoch, kept_metrics, kept_reason = kept_because(job, hp, result)
    TrainingJob.objects.filter(id=job.id).update(kept_epoch=kept_epoch, kept_metrics=kept_metrics,
                                                 kept_reason=kept_reason)
    job.refresh_from_db()
    job.artifact = artifact
    model = model_register_trained(job=job)
    recorder(Log(f"Model {model.name} holds {kept_reason}"))
    recorder(Log(f"Model {model.name} is ready to predict: POST /endpoints/{model.name}/invocations"))
    if api:
        try:
            uri = stages.upload(job, api, media.absolute(artifact))
        except Exception as error:  # the store refused or went away: the job cannot say Completed
            log.warning("job %s: uploading its model failed", job.id, exc_info=True)
            _finish(job, recorder, TrainingJob.State.FAILED, f"ClientError: uploading the model failed: {error}",
                    lease=token)
            return TrainingJob.State.FAILED
        recorder(Log(f"Model written to {uri}"))
    if not _finish(job, recorder, TrainingJob.State.SUCCEEDED, artifact=artifact, progress=1.0, eta=0, lease=token):
        return "taken over by another worker"
    return TrainingJob.State.SUCCEEDED


def _tuning_handlers(job: TrainingJob) -> list:
    """After the recorder (which stores each epoch first): a tuning trial's early-stopping judge, if it has one."""
    from webapp.tuning.running import EarlyStopping

    stopper = EarlyStopping.for_job(job)
    return [stopper] if stopper else []


@dataclass(frozen=True)
class Inputs:
    """What a job trains on: a browser job's version, or an API job's channels once downloaded."""
    train_rec: Path
    validation_rec: Path
    base_model: Path | None
    packed: bool  # images made into records, resized as they were packed


def _version_inputs(job: TrainingJob) -> Inputs:
    """A browser job's data: its frozen version's records; its base model, an upload or another job's."""
    versions = media.version_dir(job.version)
    return Inputs(train_rec=versions / "train.rec", validation_rec=versions / "val.rec",
                  base_model=media.absolute(job.base_artifact) if job.base_artifact else None, packed=False)


def _evaluate(job: TrainingJob, artifact: Path, validation_rec: Path, recorder: JobRecorder) -> None:
    """Confusion matrix and per-class figures on the validation split, kept with the job."""
    from classifier.evaluation import evaluate_artifact

    from webapp.training.models import Evaluation

    try:
        result = evaluate_artifact(artifact, validation_rec)
    except Exception as error:  # the model stands without its report; say why there is none
        log.exception("evaluating job %s failed", job.id)
        recorder(Log(f"Evaluation failed: {error}"))
        return
    Evaluation.objects.update_or_create(job=job, defaults={"data": result.as_dict()})
    recorder(Log(f"Evaluation: validation accuracy {result.accuracy:f} on {len(result.predictions)} images"))
