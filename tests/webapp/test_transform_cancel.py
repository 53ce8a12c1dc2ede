"""Cancelling a batch transform: a running one stops after the batch it is on and ends cancelled (a real
Celery worker, real MXNet); a queued one is cancelled at once; the API refuses a finished one, and another
user's, plainly. Its pages hear each change (tests/webapp/test_live_updates.py has the browser's side)."""
from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.api import import_model
from tests.support.images import colour_jpeg, zip_bytes
from tests.support.waiting import wait_until
from webapp.registry.models import BatchTransform

pytestmark = pytest.mark.django_db(transaction=True)


def _ready_model(owner, media, artifact) -> dict:
    """A model ready to predict with, stored as an import's would be, with no worker to validate it (the
    registry's model class is reached through the transform's field, whatever it is named)."""
    registered = BatchTransform._meta.get_field("model").related_model
    relative = f"models/{owner.id}/colour-squares/model.tar.gz"
    (media / relative).parent.mkdir(parents=True, exist_ok=True)
    (media / relative).write_bytes(artifact.read_bytes())
    model = registered.objects.create(owner=owner, name="colour-squares", source="imported", artifact=relative,
                                      class_names=["red", "green", "blue"], image_shape=[3, 32, 32], num_layers=20,
                                      num_classes=3, state="ready")
    return {"id": model.id}


def _create(api, model_id: int, images: int) -> dict:
    archive = zip_bytes({f"{i:03d}.jpg": colour_jpeg(i % 3, seed=i) for i in range(images)})
    created = api.post("/api/transforms/", {"model": model_id, "input": SimpleUploadedFile("photos.zip", archive)},
                       format="multipart")
    assert created.status_code == 201, created.json()
    return created.json()


def test_a_running_transform_cancelled_stops_between_batches_and_ends_cancelled(
        api, worker, colour_artifact, monkeypatch):
    import classifier.transform

    model = import_model(api, colour_artifact, name="colour-squares")
    # The worker is a thread of this process: its first batch waits here until the cancel is sent, so
    # the transform is surely running (and not yet finished) when it is cancelled.
    first_batch, cancel_sent = threading.Event(), threading.Event()
    real = classifier.transform.transform

    def held_after_first_batch(*args, on_progress, **kwargs):
        def progress(done, failed):
            on_progress(done, failed)
            if not first_batch.is_set():
                first_batch.set()
                cancel_sent.wait(timeout=60)
        return real(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(classifier.transform, "transform", held_after_first_batch)
    transform = _create(api, model["id"], images=160)  # five batches of 32
    assert first_batch.wait(timeout=120), "the transform never ran a batch"
    assert api.get(f"/api/transforms/{transform['id']}/").json()["state"] == "running"
    answer = api.post(f"/api/transforms/{transform['id']}/cancel/")
    cancel_sent.set()
    assert answer.status_code == 200, answer.json()
    assert answer.json()["cancel_requested"] is True and answer.json()["state"] == "running"

    row = wait_until(lambda: (t := BatchTransform.objects.get(id=transform["id"])).state == "cancelled" and t,
                     timeout=60)
    # The batch it was on when the cancel came is finished and counted; no third one is started.
    assert row.done == 64 and row.total == 160 and row.finished, (row.done, row.total)
    assert row.reason == "cancelled after 64 of 160 images; nothing more is written"
    assert api.get(f"/api/transforms/{transform['id']}/").json()["output"] is None
    # Finished now: a second cancel is refused, in plain words.
    again = api.post(f"/api/transforms/{transform['id']}/cancel/")
    assert again.status_code == 400 and again.json()["fields"] == {"state": ["the transform has already cancelled"]}


def test_a_queued_transform_is_cancelled_at_once_and_its_worker_leaves_it(api, broker, colour_artifact, alice,
                                                                          media):
    from webapp.registry.running import transform_run

    model = _ready_model(alice, media, colour_artifact)
    transform = _create(api, model["id"], images=3)  # no worker: it stays queued
    answer = api.post(f"/api/transforms/{transform['id']}/cancel/")
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled", answer.json()
    assert answer.json()["reason"] == "cancelled before it started"
    # The message still in the broker reaches a worker later: it finds nothing to do.
    assert transform_run(transform_id=transform["id"]) == "cancelled"
    assert BatchTransform.objects.get(id=transform["id"]).done == 0


def test_the_api_refuses_to_cancel_a_finished_transform_or_another_user_s(api, bob_api, alice, colour_artifact,
                                                                          broker, media):
    model = _ready_model(alice, media, colour_artifact)
    transform = _create(api, model["id"], images=3)
    assert bob_api.post(f"/api/transforms/{transform['id']}/cancel/").status_code == 404
    assert BatchTransform.objects.get(id=transform["id"]).cancel_requested is False
    for state in ("succeeded", "failed"):
        BatchTransform.objects.filter(id=transform["id"]).update(state=state)
        refused = api.post(f"/api/transforms/{transform['id']}/cancel/")
        assert refused.status_code == 400, refused.json()
        assert refused.json()["error"].endswith(f"the transform has already {state}")
        assert refused.json()["fields"] == {"state": [f"the transform has already {state}"]}
    assert BatchTransform.objects.get(id=transform["id"]).cancel_requested is False
    assert api.get(f"/api/transforms/{transform['id']}/cancel/").status_code == 405


def test_the_page_s_cancel_button_cancels_and_comes_back_to_the_page(api, alice, bob, colour_artifact, broker, media):
    from django.test import Client

    model = _ready_model(alice, media, colour_artifact)
    transform = _create(api, model["id"], images=3)
    intruder = Client()
    intruder.force_login(bob)
    assert intruder.post(f"/transforms/{transform['id']}/cancel/").status_code == 404
    assert BatchTransform.objects.get(id=transform["id"]).state == "queued"
    browser = Client()
    browser.force_login(alice)
    page = browser.get(f"/transforms/{transform['id']}/").content.decode()
    assert 'id="transform-cancel"' in page and f'action="/transforms/{transform["id"]}/cancel/"' in page
    answer = browser.post(f"/transforms/{transform['id']}/cancel/")
    assert answer.status_code == 302 and answer["Location"] == f"/transforms/{transform['id']}/"
    page = browser.get(answer["Location"]).content.decode()
    assert "cancelled before it started" in page and 'id="transform-cancel"' not in page
