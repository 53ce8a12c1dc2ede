"""Worker-side runs of the registry (webapp/registry/running.py) and their failure policy: a transform that
raises an error nobody foresaw ends failed with a plain reason and is not requeued; a model that cannot be
loaded, or whose worker cannot unpack it, ends invalid with its reason instead of "validating" for ever; a
transform whose worker dies every time ends failed after WORK_MAX_ATTEMPTS, not requeued for ever.
The runs are called as a worker calls them, on real rows, real files and real MXNet."""
from __future__ import annotations

import io
import json
import logging
import shutil
import tarfile
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.support.images import COLOUR_CLASSES, colour_jpeg, zip_bytes
from webapp.registry.models import BatchTransform, RegisteredModel

pytestmark = pytest.mark.django_db(transaction=True)


def _unknown_operator(artifact: Path) -> bytes:
    """The model.tar.gz with fc1's operator renamed, as a model saved by an MXNet with an operator this one
    lacks: its layout and JSON are sound, so only loading it into MXNet fails (with MXNet's own error)."""
    out = io.BytesIO()
    with tarfile.open(artifact) as source, tarfile.open(fileobj=out, mode="w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name.endswith("-symbol.json"):
                symbol = json.loads(data)
                for node in symbol["nodes"]:
                    if node["name"] == "fc1":
                        node["op"] = "NoSuchOperator"
                data = json.dumps(symbol).encode()
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    return out.getvalue()


def _model(owner, media: Path, data: bytes, *, state: str = RegisteredModel.State.READY, name: str = "colours") -> RegisteredModel:
    relative = f"models/{owner.id}/{name}/model.tar.gz"
    (media / relative).parent.mkdir(parents=True, exist_ok=True)
    (media / relative).write_bytes(data)
    return RegisteredModel.objects.create(owner=owner, name=name, source=RegisteredModel.Source.IMPORTED, artifact=relative,
                                size_bytes=len(data), class_names=COLOUR_CLASSES, image_shape=[3, 32, 32],
                                num_layers=20, num_classes=3, state=state)


def _transform(owner, model: RegisteredModel, media: Path, images: int = 6) -> BatchTransform:
    transform = BatchTransform.objects.create(owner=owner, model=model, kind=BatchTransform.Kind.ZIP,
                                              input_name="photos.zip", directory=f"transforms/{owner.id}/t")
    folder = media / transform.directory
    folder.mkdir(parents=True)
    (folder / "input.zip").write_bytes(zip_bytes({f"{i}.jpg": colour_jpeg(i % 3, seed=i) for i in range(images)}))
    return transform


def _no_server_path(reason: str, media: Path) -> None:
    for place in (str(media), str(Path(media).resolve()), tempfile.gettempdir(), "/work", "/home", "/tmp"):
        assert place not in reason, reason


def test_a_transform_raising_an_unexpected_error_ends_failed_and_is_not_requeued(
        alice, media, colour_artifact, broker, caplog):
    from webapp.core.leases import TRANSFORMS, claim
    from webapp.registry.running import transform_run
    from webapp.registry.services import transforms_requeue_stale

    # Loading this model raises MXNetError, which is neither of the library's error types: before the
    # failure policy it escaped transform_run and left the transform "running" for the stale check.
    model = _model(alice, Path(media), _unknown_operator(colour_artifact))
    transform = _transform(alice, model, Path(media))
    with caplog.at_level(logging.ERROR, logger="webapp.registry.running"):
        assert transform_run(transform_id=transform.id, worker="celery@box") == "failed"
    transform.refresh_from_db()
    assert transform.state == "failed" and transform.finished, transform.state
    assert "unexpected error" in transform.reason and "NoSuchOperator" in transform.reason, transform.reason
    assert "\n" not in transform.reason
    _no_server_path(transform.reason, Path(media))
    assert any(record.exc_info for record in caplog.records), "the traceback goes to the worker's log"

    # Its worker stops beating (it finished): the stale check leaves a failed transform alone.
    BatchTransform.objects.filter(id=transform.id).update(heartbeat=timezone.now() - timedelta(hours=1))
    assert transforms_requeue_stale() == []
    assert BatchTransform.objects.get(id=transform.id).state == "failed"
    assert not claim(TRANSFORMS, transform.id, worker="celery@late")  # a late delivery does not revive it
    assert transform_run(transform_id=transform.id, worker="celery@late") == "failed"


def test_a_model_that_cannot_be_loaded_or_unpacked_ends_invalid_with_its_reason(
        alice, media, colour_artifact, monkeypatch, caplog):
    from webapp.registry.running import model_validate

    media = Path(media)
    # Corrupt in a way only MXNet notices: invalid, and the reason names the fault rather than guessing.
    corrupt = _model(alice, media, _unknown_operator(colour_artifact), state=RegisteredModel.State.VALIDATING, name="corrupt")
    with caplog.at_level(logging.ERROR, logger="webapp.registry.running"):
        assert model_validate(model_id=corrupt.id) == "invalid"
    corrupt.refresh_from_db()
    assert corrupt.state == "invalid" and "NoSuchOperator" in corrupt.reason, corrupt.reason
    assert "weights do not fit" not in corrupt.reason and "\n" not in corrupt.reason
    _no_server_path(corrupt.reason, media)
    assert any(record.exc_info for record in caplog.records)

    # Its file vanished between the upload and the check: invalid, said by the model's name.
    vanished = _model(alice, media, colour_artifact.read_bytes(), state=RegisteredModel.State.VALIDATING, name="vanished")
    shutil.rmtree((media / vanished.artifact).parent)
    assert model_validate(model_id=vanished.id) == "invalid"
    vanished.refresh_from_db()
    assert vanished.reason.startswith("vanished: not a readable model.tar.gz"), vanished.reason
    _no_server_path(vanished.reason, media)

    # The worker's temporary folder is gone (a clean-up took it), so there is nowhere to unpack: before the
    # policy the error escaped outside the handled part and the model stayed "validating" for ever.
    stranded = _model(alice, media, colour_artifact.read_bytes(), state=RegisteredModel.State.VALIDATING, name="stranded")
    monkeypatch.setattr(tempfile, "tempdir", str(media.parent / "no-such-temporary-folder"))
    assert model_validate(model_id=stranded.id) == "invalid"
    monkeypatch.undo()
    stranded.refresh_from_db()
    assert stranded.state == "invalid" and "unpacking the model failed: No such file or directory" in stranded.reason, stranded.reason
    _no_server_path(stranded.reason, media)

    # A verdict is given once: a redelivered check of a model already judged, or of one deleted, changes nothing.
    good = _model(alice, media, colour_artifact.read_bytes(), state=RegisteredModel.State.VALIDATING, name="good")
    assert model_validate(model_id=good.id) == "ready"
    assert model_validate(model_id=corrupt.id) == "invalid"
    good.delete()
    assert model_validate(model_id=good.id) == "deleted"


def test_a_transform_whose_worker_dies_every_time_ends_failed_naming_the_attempts(
        alice, media, colour_artifact, broker, settings):
    """Jobs and builds have this test in test_leases.py; this is the transforms' (a worker killed each
    time by, say, an image that exhausts its memory)."""
    from webapp.core.leases import TRANSFORMS, claim
    from webapp.registry.running import transform_run
    from webapp.registry.services import transforms_requeue_stale

    assert settings.WORK_MAX_ATTEMPTS == 3
    model = _model(alice, Path(media), colour_artifact.read_bytes())
    transform = _transform(alice, model, Path(media))
    for stop in range(3):  # a worker claims it, then dies: its beat goes stale and the beat task runs
        assert claim(TRANSFORMS, transform.id, worker=f"celery@box{stop}")
        BatchTransform.objects.filter(id=transform.id).update(heartbeat=timezone.now() - timedelta(hours=1))
        assert transforms_requeue_stale() == ([transform.id] if stop < 2 else [])
    transform.refresh_from_db()
    assert transform.state == "failed" and transform.finished and transform.attempts == 3
    assert transform.reason.startswith("its worker stopped 3 times while running it"), transform.reason
    assert "celery@box2 stopped responding" in transform.reason
    assert transforms_requeue_stale() == []
    assert transform_run(transform_id=transform.id, worker="celery@late") == "failed"  # not revived
