"""Worker-side runs of the registry: checking an imported model, and batch transforms.

The training runner's policy (webapp/training/running.py): a row is finished once, by the claim holding
it (a conditional update on its state and lease); ANY exception ends it failed (a transform) or invalid
(a model) with a plain reason, no server path, and is logged with its traceback, so no row is left
"running" for the heartbeat check to requeue. A transform stops when its lease is lost (another worker
took it over) or its owner cancels it (``cancel_requested``), between batches. Each change of a transform
is a notice to its owner's pages (webapp/core/notices.py), its progress at most twice a second.
"""
from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from webapp.core.leases import TRANSFORMS, Lease, claim
from webapp.core.notices import Throttle, notify
from webapp.registry.models import BatchTransform, RegisteredModel
from webapp.training.recording import shown

log = logging.getLogger(__name__)
# Not after ":" or "/": the keys of an s3:// or http:// URL are the user's own names, not a server path.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.@+-]+)+/([\w.@+-]+)")
_MXNET_WHERE = re.compile(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ")  # "[02:40:51] ../src/core/op.cc:73: "


def _media(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


def plain(text: str, *names: tuple[str, str]) -> str:
    """``text`` for the user: known files by the names the user knows (``names``: (path, name) pairs),
    media files by their place there, and any other absolute path (a temporary folder, a library's
    own file) by its last part; one line, since MXNet appends C++ stack traces to its messages."""
    for path, name in names:
        if path:
            text = text.replace(path, name)
    text = _ABSOLUTE_PATH.sub(r"\1", shown(text.strip().splitlines()[0] if text.strip() else text))
    return text[:500]


def _unexpected(error: Exception, doing: str) -> str:
    kind = type(error).__name__
    message = _MXNET_WHERE.sub("", plain(str(error))).removeprefix(f"{kind}: ")
    return f"{doing} stopped on an unexpected error ({kind}: {message}); the worker's log has the details"


def _unreadable(error: OSError, doing: str, *names: tuple[str, str]) -> str:
    """An OSError the library did not turn into its own error: a file of the worker's that is gone or
    unreadable (a temporary folder cleaned away, a full disk)."""
    where = f" ({plain(str(error.filename), *names)})" if error.filename else ""
    return f"{doing} failed: {error.strerror or error}{where}; the worker's log has the details"


class _TakenOver(Exception):
    """Raised from the progress callback: another worker holds the transform now, so this one stops."""


class _Cancelled(Exception):
    """Raised from the progress callback: the owner cancelled the transform."""


# --- model validation ---------------------------------------------------------------------------------


def model_validate(*, model_id: int) -> str:
    """In a worker: unpack the model (within the caps the web request checked from its headers) and load it
    as serving will, so a broken import is refused with its reason. Only a model still validating gets
    the verdict, so a redelivery changes nothing."""
    from classifier import artifacts
    from classifier.errors import ClassifierError
    from classifier.inference import Predictor

    model = RegisteredModel.objects.filter(id=model_id).first()
    if model is None or model.state != RegisteredModel.State.VALIDATING:
        return model.state if model else "deleted"
    source, unpacked = str(_media(model.artifact)), ""
    try:
        with tempfile.TemporaryDirectory(prefix="icstudio-import-") as unpacked:
            artifacts.read_artifact(Path(source), Path(unpacked), max_unpacked_bytes=settings.MODEL_MAX_UNPACKED_BYTES,
                                    max_members=settings.MODEL_MAX_FILES)
            predictor = Predictor(Path(unpacked))
    except ClassifierError as error:  # the file's own fault, said as the library says it
        log.warning("model %s is invalid", model.id, exc_info=True)
        reason = plain(str(error), (source, model.name), (unpacked, model.name))
        return _model_verdict(model, RegisteredModel.State.INVALID, reason)
    except OSError as error:
        log.exception("validating model %s failed", model.id)
        reason = _unreadable(error, "unpacking the model", (source, model.name), (unpacked, model.name))
        return _model_verdict(model, RegisteredModel.State.INVALID, reason)
    except Exception as error:  # MXNet's own errors (an operator it lacks, shapes that do not fit), or a bug
        log.exception("validating model %s failed", model.id)
        return _model_verdict(model, RegisteredModel.State.INVALID, _unexpected(error, "loading the model"))
    return _model_verdict(model, RegisteredModel.State.READY, "", num_classes=predictor.num_classes)


def _model_verdict(model: RegisteredModel, state: str, reason: str, **fields) -> str:
    if not RegisteredModel.objects.filter(id=model.id, state=RegisteredModel.State.VALIDATING).update(state=state, reason=reason,
                                                                                  **fields):
        return RegisteredModel.objects.filter(id=model.id).values_list("state", flat=True).first() or "deleted"
    return state


# --- batch transforms ---------------------------------------------------------------------------------


def transform_run(*, transform_id: int, worker: str = "worker") -> str:
    """In a worker: the whole input through the model; a redelivered run continues where it stopped."""
    job = BatchTransform.objects.select_related("model").get(id=transform_id)
    if job.finished_state:
        return job.state
    if job.cancel_requested and job.state == BatchTransform.State.QUEUED:  # requeued after its cancel
        queued = BatchTransform.objects.filter(id=job.id, state=BatchTransform.State.QUEUED)
        return _transform_finish(queued, job.id, BatchTransform.State.CANCELLED, "cancelled before it started")
    token = claim(TRANSFORMS, job.id, worker=worker)
    if not token:
        return "running elsewhere"  # a duplicate delivery while its first worker is alive
    with Lease(TRANSFORMS, job.id, token) as lease:  # beats while the model loads and between progress reports
        return _transform_run(job, lease)


def _transform_run(job: BatchTransform, lease: Lease) -> str:
    from classifier.errors import ClassifierError
    from classifier.inference import Predictor
    from classifier.transform import count_items, items_of, transform

    mine = BatchTransform.objects.filter(id=job.id, lease=lease.token, state=BatchTransform.State.RUNNING)
    folder = _media(job.directory)
    source = folder / ("input.zip" if job.kind == BatchTransform.Kind.ZIP else "input.rec")
    lst = folder / "input.lst"
    names = (str(source), job.input_name), (str(_media(job.model.artifact)), job.model.name)
    throttle = Throttle()

    def progress(done: int, failed: int) -> None:
        if lease.lost.is_set():
            raise _TakenOver
        mine.update(done=done, failed=failed, heartbeat=timezone.now())
        if BatchTransform.objects.filter(id=job.id, cancel_requested=True).exists():
            raise _Cancelled
        if throttle.due():
            _notify(job.id)

    try:
        if job.kind == BatchTransform.Kind.S3:
            lines = _s3_transform(job, mine, progress)
        else:
            total = count_items(source)
            mine.update(total=total)
            _notify(job.id)
            predictor = Predictor(_media(job.model.artifact))
            lines, failed = transform(predictor, items_of(source, lst if lst.exists() else None),
                                      _media(job.output), on_progress=progress)
    except _TakenOver:
        return "taken over by another worker"
    except _Cancelled:
        done, total = BatchTransform.objects.values_list("done", "total").get(id=job.id)
        unit = "objects" if job.kind == BatchTransform.Kind.S3 else "images"
        return _transform_finish(mine, job.id, BatchTransform.State.CANCELLED,
                                 f"cancelled after {done} of {total} {unit}; nothing more is written")
    except ClassifierError as error:  # the input's or the model's fault, said as the library says it
        log.warning("transform %s failed", job.id, exc_info=True)
        return _transform_finish(mine, job.id, BatchTransform.State.FAILED, plain(str(error), *names))
    except OSError as error:
        log.exception("transform %s failed", job.id)
        return _transform_finish(mine, job.id, BatchTransform.State.FAILED,
                                 _unreadable(error, "the transform", *names))
    except Exception as error:
        log.exception("transform %s failed", job.id)
        return _transform_finish(mine, job.id, BatchTransform.State.FAILED, _unexpected(error, "the transform"))
    return _transform_finish(mine, job.id, BatchTransform.State.SUCCEEDED, "", done=lines, total=lines)


def _s3_transform(job: BatchTransform, mine, progress) -> int:
    """CreateTransformJob's job (webapp/sagemaker/transform_stages.py): S3 objects in, one ``.out`` each back.
    A model CreateModel made may still be validating: loading it here is the same check."""
    from classifier.errors import ClassifierError
    from classifier.inference import Predictor

    from webapp.sagemaker import transform_stages

    model = RegisteredModel.objects.get(id=job.model_id)
    if model.state == RegisteredModel.State.INVALID:
        raise ClassifierError(f"ClientError: model {model.name} cannot be loaded: {model.reason}")
    mine.update(total=transform_stages.started(job))
    _notify(job.id)
    predictor = Predictor(_media(model.artifact))
    return transform_stages.run(job, predictor, on_progress=lambda done: progress(done, 0))


def _transform_finish(mine, transform_id: int, state: str, reason: str, **fields) -> str:
    """Once: a worker taken for dead that reaches the end after another took it over changes nothing."""
    if not mine.update(state=state, reason=reason, finished=timezone.now(), **fields):
        return "taken over by another worker"
    _notify(transform_id)
    return state


def _notify(transform_id: int) -> None:
    transform = BatchTransform.objects.filter(id=transform_id).first()
    if transform is not None:
        notify(transform.owner_id, transform.notice())
