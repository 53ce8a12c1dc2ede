"""Operations: the health page, structured logs and the cleanup command."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def staff_api(alice):
    from tests.support.api import api_client

    alice.is_staff = True
    alice.save()
    return api_client(alice)


def _healthy(api, timeout=30, until=lambda report: True):
    deadline = time.monotonic() + timeout
    while True:
        response = api.get("/api/health/")
        if (response.status_code == 200 and until(response.json())) or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def test_health_names_the_database_redis_workers_gpus_and_disks(staff_api, alice, serving, colour_artifact, media):
    from tests.support.api import import_model
    from tests.support.images import colour_jpeg

    model = import_model(staff_api, colour_artifact, name="colour-squares")
    assert staff_api.post(f"/api/models/{model['id']}/predict/", colour_jpeg(0),
                          content_type="image/jpeg").status_code == 200  # now warm in the serving worker
    # The serving worker's next heartbeat names the model it now holds.
    response = _healthy(staff_api, until=lambda report: any(
        beat["models"] for beat in report["checks"]["workers"]["serving"].values()))
    report = response.json()
    assert response.status_code == 200 and report["ok"], report
    checks = report["checks"]
    assert checks["database"]["vendor"] in ("sqlite", "postgresql")
    assert checks["redis"]["version"]
    [celery] = checks["workers"]["celery"].values()
    assert {"cpu", "gpu"} <= set(celery["queues"]) and celery["gpus"] == []  # no NVIDIA GPU on this machine
    [serving_worker] = checks["workers"]["serving"].values()
    assert serving_worker["device"].startswith("cpu")
    assert serving_worker["models"] == ["colour-squares"]  # by name, not by the artifact's path
    # Folders by their role, with their free space; no server path, not even for staff.
    assert set(checks["disk"]["places"]) == {"media", "model store", "state folder"}
    assert all(place["free"] > 0 for place in checks["disk"]["places"].values())

    browser = Client()
    browser.force_login(alice)
    page = browser.get("/health/")
    text = page.content.decode()
    assert page.status_code == 200 and "all good" in text and "no GPU" in text and "colour-squares" in text
    assert "Model store:" in text and "Media:" in text
    for shown in (json.dumps(report), text):
        for path in (str(media), str(ROOT), "/tmp/", "/var/", "/home/", "/root/"):
            assert path not in shown, (path, shown[:2000])
    assert Client().get("/api/health/").status_code == 401
    assert Client().get("/health/").status_code == 302


def test_health_is_for_staff_only(api, bob):
    # bob signs in as a user who is not staff: a plain "not allowed" page, and 403 from the API.
    browser = Client()
    browser.force_login(bob)
    page = browser.get("/health/")
    assert page.status_code == 403
    assert b"for staff accounts" in page.content and b"Go to your datasets" in page.content
    assert b'href="/health/"' not in browser.get("/").content  # and the menu does not offer it
    refused = api.get("/api/health/")
    assert refused.status_code == 403 and "for staff accounts" in refused.json()["error"]


def test_the_first_account_made_is_staff_and_later_ones_are_not(client, django_user_model):
    assert b"The first account on this installation" in Client().get("/signup/").content
    for name in ("first", "second"):
        assert Client().post("/signup/", {"username": name, "password1": "a-long-secret-9",
                                          "password2": "a-long-secret-9"}).status_code == 302
    assert django_user_model.objects.get(username="first").is_staff
    assert not django_user_model.objects.get(username="second").is_staff
    assert b"The first account on this installation" not in Client().get("/signup/").content


def test_a_failing_check_names_folders_by_role_not_by_path(settings, staff_api, tmp_path):
    from webapp.operations import health

    settings.MODEL_STORE = tmp_path / "store"
    settings.MODEL_STORE.write_text("a file where the folder should be")

    def broken():
        (settings.MODEL_STORE / "x").mkdir()  # NotADirectoryError naming the folder's absolute path

    result = health._timed(broken)
    assert not result["ok"] and "<model store>" in result["error"] and str(tmp_path) not in result["error"]
    assert health._without_paths("cannot open /srv/elsewhere/data.bin") == "cannot open <a server path>"
    assert health._without_paths("redis://127.0.0.1:6379/13 is down") == "redis://127.0.0.1:6379/13 is down"


def test_health_says_what_is_missing(staff_api, worker):
    response = staff_api.get("/api/health/")
    assert response.status_code == 503
    assert "no serving worker" in response.json()["checks"]["workers"]["error"]


def test_logs_are_one_json_object_a_line_when_asked(tmp_path):
    script = ("import django, logging; django.setup();"
              "logging.getLogger('icstudio.jobs').warning('job %s stalled', 7, extra={'job': 7})")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.config.settings", "LOG_FORMAT": "json",
           "ICSTUDIO_VAR": str(tmp_path)}
    lines = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True).stderr.strip().splitlines()
    record = json.loads(lines[-1])
    assert record["message"] == "job 7 stalled" and record["level"] == "WARNING" and record["job"] == 7
    assert record["logger"] == "icstudio.jobs" and "time" in record


def test_cleanup_deletes_old_checkpoints_and_inputs_but_never_models(alice, media):
    from webapp.datasets.models import Dataset, DatasetVersion
    from webapp.registry.models import BatchTransform, RegisteredModel
    from webapp.training.models import TrainingJob

    version = DatasetVersion.objects.create(dataset=Dataset.objects.create(owner=alice, name="d"), number=1,
                                            directory="v")
    long_ago = timezone.now() - timedelta(days=40)

    def job(state, finished):
        made = TrainingJob.objects.create(owner=alice, version=version, hyperparameters={}, state=state,
                                          finished=finished, artifact="")
        folder = Path(media) / made.directory
        (folder / "work" / "checkpoints").mkdir(parents=True)
        (folder / "work" / "checkpoints" / "0001.params").write_bytes(b"x" * 1000)
        (folder / "model.tar.gz").write_bytes(b"model")
        return folder

    old, recent, running = job("succeeded", long_ago), job("failed", timezone.now()), job("running", None)
    model = RegisteredModel.objects.create(owner=alice, name="m", source="imported", artifact="models/1/a/model.tar.gz")
    transform = BatchTransform.objects.create(owner=alice, model=model, kind="zip", input_name="in.zip",
                                              directory="transforms/1/1", state="succeeded", finished=long_ago)
    transform_dir = Path(media) / transform.directory
    transform_dir.mkdir(parents=True)
    (transform_dir / "input.zip").write_bytes(b"z" * 500)
    (transform_dir / "output.jsonl").write_text("{}\n")
    unused = Path(media) / "uploads/1/models/aaa/model.tar.gz"
    used = Path(media) / "uploads/1/models/bbb/model.tar.gz"
    for path in (unused, used):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"base")
        os.utime(path, (long_ago.timestamp(), long_ago.timestamp()))
    TrainingJob.objects.create(owner=alice, version=version, hyperparameters={}, state="queued",
                               base_artifact="uploads/1/models/bbb/model.tar.gz")

    out = StringIO()
    call_command("cleanup", "--days", "30", "--dry-run", stdout=out)
    assert "3 items, would free" in out.getvalue() and (old / "work").exists()
    call_command("cleanup", "--days", "30", stdout=StringIO())
    assert not (old / "work").exists() and (old / "model.tar.gz").exists()
    assert (recent / "work").exists() and (running / "work").exists()
    assert not (transform_dir / "input.zip").exists() and (transform_dir / "output.jsonl").exists()
    assert not unused.exists() and used.exists()
