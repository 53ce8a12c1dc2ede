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


def _healthy(api, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        response = api.get("/api/health/")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def test_health_names_the_database_redis_workers_gpus_and_disks(api, alice, serving):
    response = _healthy(api)
    report = response.json()
    assert response.status_code == 200 and report["ok"], report
    checks = report["checks"]
    assert checks["database"]["vendor"] in ("sqlite", "postgresql")
    assert checks["redis"]["version"]
    [celery] = checks["workers"]["celery"].values()
    assert {"cpu", "gpu"} <= set(celery["queues"]) and celery["gpus"] == []  # no NVIDIA GPU on this machine
    [serving_worker] = checks["workers"]["serving"].values()
    assert serving_worker["device"].startswith("cpu")
    assert checks["disk"]["places"]["media"]["free"] > 0

    browser = Client()
    browser.force_login(alice)
    page = browser.get("/health/")
    assert page.status_code == 200 and b"all good" in page.content and b"no GPU" in page.content
    assert Client().get("/api/health/").status_code == 401
    assert Client().get("/health/").status_code == 302


def test_health_says_what_is_missing(api, worker):
    response = api.get("/api/health/")
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
    from webapp.registry.models import BatchTransform, Model
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
    model = Model.objects.create(owner=alice, name="m", source="imported", artifact="models/1/a/model.tar.gz")
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
