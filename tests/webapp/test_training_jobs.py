"""Click-to-train through the API: a real worker trains with real MXNet and the metrics arrive live
over a real WebSocket, through a real Redis channel layer."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from tests.support.api import colour_version
from tests.support.waiting import wait_until
from webapp.training.models import TrainingJob

pytestmark = pytest.mark.django_db(transaction=True)
HYPERPARAMETERS = {"num_layers": "20", "image_shape": "3,32,32", "epochs": "2", "mini_batch_size": "16",
                   "learning_rate": "0.05", "top_k": "2"}


@pytest.fixture
def channel_layer(channel_layer_redis):
    return channel_layer_redis


@pytest.fixture
def version(api, worker):
    """A ready version of three colours, 20 images each, 32x32."""
    return colour_version(api, classes=("red", "green", "blue"), per_class=20)


def _communicator(user, job_id, after=0):
    from webapp.config.asgi import application

    browser = Client()
    browser.force_login(user)
    headers = [(b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]
    return WebsocketCommunicator(application, f"/ws/jobs/{job_id}/?after={after}", headers=headers)


async def _collect_until_finished(communicator, timeout=180):
    messages = []
    connected, _ = await communicator.connect()
    assert connected
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        message = await communicator.receive_json_from(timeout=max(1, deadline - asyncio.get_running_loop().time()))
        messages.append(message)
        if message["type"] == "state" and message["state"] in ("succeeded", "failed", "cancelled"):
            break
    await communicator.disconnect()
    return messages


def test_train_through_the_api_with_live_metrics(api, alice, version, channel_layer, media):
    response = api.post("/api/jobs/", {"version": version, "hyperparameters": HYPERPARAMETERS}, format="json")
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["hyperparameters"]["num_classes"] == "3" and job["hyperparameters"]["num_training_samples"] == "45"

    messages = async_to_sync(_collect_until_finished)(_communicator(alice, job["id"]))
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))  # no gap, no duplicate
    assert messages[-1]["state"] == "succeeded", messages[-1]
    epochs = [m for m in messages if m["type"] == "metric" and m["batch"] is None]
    assert [m["epoch"] for m in epochs] == [0, 1]
    assert {"train:accuracy", "validation:accuracy", "validation:top_k_accuracy_2", "lr"} <= set(epochs[-1]["metrics"])
    assert any(m["type"] == "metric" and m["batch"] is not None for m in messages)
    assert any(m["type"] == "log" and m["line"].startswith("Epoch[1] Validation-accuracy=") for m in messages)

    finished = api.get(f"/api/jobs/{job['id']}/").json()
    assert finished["state"] == "succeeded" and finished["progress"] == 1.0
    assert (Path(media) / finished["artifact"]).exists()

    evaluation = api.get(f"/api/jobs/{job['id']}/evaluation/").json()
    assert sum(map(sum, evaluation["confusion"])) == 15 and len(evaluation["per_class"]) == 3
    best = max(m["metrics"]["validation:accuracy"] for m in epochs)
    assert evaluation["accuracy"] == pytest.approx(best, abs=1e-6)  # the artifact holds the best epoch
    assert all(row["image"] and row["thumbnail"] for row in evaluation["predictions"])
    assert evaluation["predictions"][0]["correct"] is False or all(r["correct"] for r in evaluation["predictions"])

    # A page opened later gets the history from any point, then nothing twice.
    middle = len(messages) // 2
    replay = async_to_sync(_collect_until_finished)(_communicator(alice, job["id"], after=middle))
    assert replay == messages[middle:]
    stored = api.get(f"/api/jobs/{job['id']}/metrics/?after={middle}").json()
    assert stored == messages[middle:]


def test_invalid_hyperparameters_are_reported_per_field(api, version):
    response = api.post("/api/jobs/", {"version": version, "hyperparameters": {
        "num_layers": "19", "optimizer": "lbfgs", "learning_rate": "3", "image_shape": "3,32,32"}}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"num_layers", "optimizer", "learning_rate"}
    response = api.post("/api/jobs/", {"version": version, "mode": "transfer",
                                       "hyperparameters": {"num_layers": "18", "image_shape": "3,224,224"}}, format="json")
    assert "no ImageNet weights for ResNet-18" in response.json()["fields"]["num_layers"][0]
    response = api.post("/api/jobs/", {"version": version, "hyperparameters": {**HYPERPARAMETERS,
                                                                               "kv_store": "dist_sync"}}, format="json")
    assert response.status_code == 400 and "--workers" in response.json()["fields"]["kv_store"][0]


def test_cancel_stops_within_a_batch_and_keeps_the_checkpoint(api, version, media):
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": {**HYPERPARAMETERS, "epochs": "30"}},
                   format="json").json()
    wait_until(lambda: TrainingJob.objects.get(id=job["id"]).epoch >= 0)
    assert api.post(f"/api/jobs/{job['id']}/cancel/").json()["state"] in ("running", "cancelled")
    cancelled = wait_until(lambda: (j := TrainingJob.objects.get(id=job["id"])).state == "cancelled" and j)
    assert cancelled.epoch < 29 and "checkpoint" in cancelled.reason
    assert (Path(media) / f"jobs/{job['id']}/work/checkpoints/state.json").exists()
    assert api.post(f"/api/jobs/{job['id']}/cancel/").status_code == 400


def test_other_users_cannot_see_or_watch_a_job(api, bob, bob_api, version, channel_layer):
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": {**HYPERPARAMETERS, "epochs": "1"}},
                   format="json").json()
    for method, url in (("get", "/api/jobs/{}/"), ("post", "/api/jobs/{}/cancel/"), ("get", "/api/jobs/{}/metrics/"),
                        ("post", "/api/jobs/{}/resume/"), ("post", "/api/jobs/{}/model/")):
        assert getattr(bob_api, method)(url.format(job["id"])).status_code == 404
    intruder = Client()
    intruder.force_login(bob)
    for url in ("/jobs/{}/", "/jobs/{}/resume/", "/jobs/{}/model/", "/jobs/{}/cancel/"):
        method = intruder.get if url == "/jobs/{}/" else intruder.post
        assert method(url.format(job["id"])).status_code == 404
    assert bob_api.post("/api/jobs/", {"version": version}, format="json").status_code == 404

    async def connect(communicator):
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(connect)(_communicator(bob, job["id"])) == (False, 4404)
    wait_until(lambda: TrainingJob.objects.get(id=job["id"]).finished_state)


def test_the_web_process_never_imports_mxnet():
    script = ("import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE'] = 'webapp.config.settings'; django.setup();"
              "import webapp.config.urls, webapp.config.asgi, webapp.core.tasks, webapp.datasets.tasks, "
              "webapp.registry.tasks, webapp.training.tasks;"
              "from django.urls import get_resolver; get_resolver().url_patterns;"
              "print('mxnet' in sys.modules, 'cv2' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2]).stdout.split()
    assert output[-2] == "False"





def test_notices_reach_the_owner_s_pages_when_a_job_ends(api, alice, bob, version, channel_layer):
    from asgiref.sync import sync_to_async

    from webapp.training.recording import JobRecorder

    job = TrainingJob.objects.create(owner=alice, version_id=version, hyperparameters={"epochs": "1"},
                                     metrics={"validation:accuracy": 0.9})

    async def listen(mine, theirs):
        from webapp.config.asgi import application  # noqa: F401  (routing loaded)

        for communicator in (mine, theirs):
            assert (await communicator.connect())[0]
        await sync_to_async(JobRecorder(job).state)("succeeded")
        notice = await mine.receive_json_from(timeout=10)
        assert await theirs.receive_nothing(timeout=0.5)
        for communicator in (mine, theirs):
            await communicator.disconnect()
        return notice

    def notices(user):
        from webapp.config.asgi import application

        browser = Client()
        browser.force_login(user)
        cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
        return WebsocketCommunicator(application, "/ws/notices/", headers=[(b"cookie", cookie), (b"origin", b"http://localhost"), (b"host", b"localhost")])

    notice = async_to_sync(listen)(notices(alice), notices(bob))
    assert notice == {"type": "job", "job": job.id, "state": "succeeded", "reason": "",
                      "dataset": job.version.dataset_id, "metrics": {"validation:accuracy": 0.9}}


def test_compare_overlays_runs_and_diffs_their_hyperparameters(api, alice, bob, version):
    first = TrainingJob.objects.create(owner=alice, version_id=version, hyperparameters={"learning_rate": "0.1", "epochs": "3"})
    second = TrainingJob.objects.create(owner=alice, version_id=version, hyperparameters={"learning_rate": "0.01", "epochs": "3"})
    browser = Client()
    browser.force_login(alice)
    page = browser.get(f"/jobs/compare/?ids={first.id}&ids={second.id}")
    assert page.status_code == 200
    assert [(name, values) for name, values in page.context["differing"]] == [("learning_rate", ["0.1", "0.01"])]
    intruder = Client()
    intruder.force_login(bob)
    assert intruder.get(f"/jobs/compare/?ids={first.id}").status_code == 404


def test_incremental_training_from_an_uploaded_sagemaker_model(api, version, media, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    base = api.post("/api/jobs/", {"version": version, "hyperparameters": {**HYPERPARAMETERS, "epochs": "1"}},
                    format="json").json()
    done = wait_until(lambda: (j := TrainingJob.objects.get(id=base["id"])).finished_state and j)
    artifact = (Path(media) / done.artifact).read_bytes()

    def submit(data: bytes, **hyperparameters):
        return api.post("/api/jobs/", {
            "version": version, "mode": "incremental",
            "hyperparameters": json.dumps({**HYPERPARAMETERS, "epochs": "1", **hyperparameters}),
            "base_upload": SimpleUploadedFile("model.tar.gz", data)}, format="multipart")

    response = submit(artifact)
    assert response.status_code == 201, response.json()
    job = wait_until(lambda: (j := TrainingJob.objects.get(id=response.json()["id"])).finished_state and j)
    assert job.state == "succeeded", job.reason
    assert any("for incremental training" in e.data.get("line", "") for e in job.events.filter(kind="log"))

    deeper = submit(artifact, num_layers="32")
    assert deeper.status_code == 400 and "num_layers: model has 20, job asks for 32" in deeper.json()["fields"]["base_model"][0]
    garbage = submit(b"not a tarball")
    assert garbage.status_code == 400 and "not a readable model.tar.gz" in garbage.json()["fields"]["base_upload"][0]


def _server_paths(text: str, media) -> list[str]:
    """Absolute paths of this machine in ``text``: the media folder, the checkout, the temporary folder."""
    import re
    import tempfile

    from django.conf import settings

    places = {str(media), str(Path(media).resolve()), str(settings.BASE_DIR), tempfile.gettempdir(),
              str(settings.MODEL_STORE), str(settings.VAR_DIR)}
    found = [place for place in places if place in text]
    # Any other absolute path whose first folder exists here (/tmp/…, /work/…, /root/…).
    for token in re.findall(r"(?<![\w.:/])/[A-Za-z0-9_.-]+/[^\s'\"<>]*", text):
        if Path("/" + token.split("/")[1]).is_dir():
            found.append(token)
    return found


def test_a_finished_job_shows_its_kept_epoch_and_no_server_path(api, alice, version, media):
    """Item 12: the model's figures are the kept epoch's, the one its evaluation measures; item 11: what
    the user reads names their own objects, never a path of the server."""
    from webapp.registry.models import RegisteredModel

    job = api.post("/api/jobs/", {"version": version, "hyperparameters": {
        **HYPERPARAMETERS, "epochs": "8", "early_stopping": "True", "early_stopping_min_epochs": "1",
        "early_stopping_patience": "1"}}, format="json").json()
    done = wait_until(lambda: (j := TrainingJob.objects.get(id=job["id"])).finished_state and j)
    assert done.state == "succeeded", done.reason
    history = [e for e in done.events.filter(kind="metric", batch__isnull=True)]
    run = len(history)
    # Early stopping ends on an epoch without gain, so the kept (best) epoch is never the last one.
    kept = max(range(run), key=lambda i: (history[i].data["validation:accuracy"], -i)) + 1
    assert done.kept_epoch == kept < run
    assert done.kept_reason == f"epoch {kept} of {run}: best validation accuracy (stopped early: no gain for 1 epoch)"
    model = RegisteredModel.objects.get(job=done)
    kept_row = history[kept - 1].data
    assert model.metrics["validation:loss"] == kept_row["validation:loss"] != history[-1].data["validation:loss"]
    assert (model.kept_epoch, model.kept_reason) == (kept, done.kept_reason)
    evaluation = api.get(f"/api/jobs/{done.id}/evaluation/").json()
    assert evaluation["accuracy"] == pytest.approx(model.validation_accuracy, abs=1e-6)
    assert api.get(f"/api/models/{model.id}/").json()["kept_reason"] == done.kept_reason

    browser = Client()
    browser.force_login(alice)
    listing = browser.get("/models/").content.decode()
    assert f"{model.validation_accuracy:.4f}" in listing and f"epoch {kept} of {run}: best validation accuracy" in listing
    assert f"epoch {kept} of {run}: best validation accuracy" in browser.get(f"/models/{model.id}/").content.decode()
    assert 'Saved checkpoint of epoch 1 to "image-classification-0001.params"' in [
        e.data["line"] for e in done.events.filter(kind="log")]

    # A job whose version lost a file fails, and says which file in the user's terms.
    from webapp.datasets.models import DatasetVersion

    (Path(media) / DatasetVersion.objects.get(id=version).directory / "val.rec").unlink()
    broken = api.post("/api/jobs/", {"version": version, "hyperparameters": {**HYPERPARAMETERS, "epochs": "1"}},
                      format="json").json()
    failed = wait_until(lambda: (j := TrainingJob.objects.get(id=broken["id"])).finished_state and j)
    assert failed.state == "failed" and failed.reason.startswith("cannot read datasets/"), failed.reason

    seen = [failed.reason, done.reason]
    for job_row in (done, failed):
        seen += [json.dumps(event.message()) for event in job_row.events.all()]
        seen.append(json.dumps(api.get(f"/api/jobs/{job_row.id}/").json()))
        seen.append(browser.get(f"/jobs/{job_row.id}/").content.decode())
    seen += [browser.get("/jobs/").content.decode(), listing, json.dumps(api.get("/api/jobs/").json())]
    leaks = {path for text in seen for path in _server_paths(text, media)}
    assert not leaks, leaks


def test_a_cancelled_job_resumes_and_its_checkpoint_becomes_a_model(api, version, media):
    from webapp.registry.models import RegisteredModel

    job = api.post("/api/jobs/", {"version": version, "hyperparameters": {**HYPERPARAMETERS, "epochs": "30"}},
                   format="json").json()

    def cancel_after(epoch: int) -> dict:
        wait_until(lambda: TrainingJob.objects.get(id=job["id"]).epoch >= epoch)
        api.post(f"/api/jobs/{job['id']}/cancel/")
        wait_until(lambda: TrainingJob.objects.get(id=job["id"]).state == "cancelled")
        return api.get(f"/api/jobs/{job['id']}/").json()

    first = cancel_after(0)
    assert first["checkpoint"]["epoch"] >= 1 and first["checkpoint"]["model_epoch"] >= 1
    assert "resume the job, or make a model" in first["reason"]
    resumed = api.post(f"/api/jobs/{job['id']}/resume/").json()
    assert resumed["state"] == "queued" and resumed["reason"].startswith("resuming after epoch")
    second = cancel_after(first["checkpoint"]["epoch"])  # it went on past where it stopped
    lines = [e.data["line"] for e in TrainingJob.objects.get(id=job["id"]).events.filter(kind="log")]
    assert f"Resuming from the checkpoint of Epoch[{first['checkpoint']['epoch'] - 1}]" in lines

    epochs_run = TrainingJob.objects.get(id=job["id"]).events.filter(kind="metric", batch__isnull=True).count()
    made = api.post(f"/api/jobs/{job['id']}/model/")
    assert made.status_code == 200 and made.json()["state"] == "queued"
    done = wait_until(lambda: (j := TrainingJob.objects.get(id=job["id"])).finished_state and j)
    assert done.state == "succeeded", done.reason
    assert done.events.filter(kind="metric", batch__isnull=True).count() == epochs_run  # no epoch trained on
    model = RegisteredModel.objects.get(job=done)
    assert model.kept_epoch == second["checkpoint"]["model_epoch"]
    assert f"cancelled after epoch {second['checkpoint']['epoch']} of 30" in model.kept_reason
    assert (Path(media) / done.artifact).exists()
    assert api.post(f"/api/jobs/{job['id']}/resume/").status_code == 400  # a succeeded job has nothing to resume
