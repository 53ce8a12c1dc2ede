"""A worker killed mid-training: its job is detected by the stale heartbeat, requeued, and resumed
from its last checkpoint by another worker, and finishes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from tests.support.api import colour_version
from tests.support.databases import TEST_REDIS, database_url
from tests.support.waiting import wait_until
from webapp.training.models import JobEvent, TrainingJob
from webapp.training.services import jobs_requeue_stale

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]


def test_killed_worker_s_job_resumes_elsewhere_and_finishes(api, settings, media, channel_layer_redis):
    settings.TRAINING_STALE_SECONDS = 3
    env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]), "MEDIA_ROOT": str(media), "REDIS_URL": TEST_REDIS,
           "TRAINING_HEARTBEAT_SECONDS": "1"}
    from workers.celery import app

    app.conf.update(broker_url=TEST_REDIS, result_backend=TEST_REDIS)
    with app.pool.acquire(block=True) as connection:
        connection.default_channel.client.flushdb()
    doomed = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "cpu,gpu", "-P", "solo",
                               "-l", "WARNING"], cwd=REPO, env=env, start_new_session=True)
    try:
        version = colour_version(api)
        job = api.post("/api/jobs/", {"version": version, "hyperparameters": {
            "num_layers": "20", "image_shape": "3,32,32", "epochs": "12", "mini_batch_size": "8",
            "learning_rate": "0.05"}}, format="json").json()
        wait_until(lambda: TrainingJob.objects.get(id=job["id"]).epoch >= 1)
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)  # no warm shutdown, no acknowledgement: as a crash
        doomed.wait()
    killed_at = TrainingJob.objects.get(id=job["id"]).epoch
    assert TrainingJob.objects.get(id=job["id"]).state == "running"

    wait_until(lambda: jobs_requeue_stale() == [job["id"]], timeout=30, step=0.5)
    assert TrainingJob.objects.get(id=job["id"]).state == "queued"
    with start_worker(app, queues=["gpu"], perform_ping_check=False, pool="solo", shutdown_timeout=30):
        finished = wait_until(lambda: (j := TrainingJob.objects.get(id=job["id"])).finished_state and j, timeout=180)
    assert finished.state == "succeeded", finished.reason
    lines = [e.data["line"] for e in JobEvent.objects.filter(job_id=job["id"], kind="log")]
    resumed = [line for line in lines if line.startswith("Resuming from the checkpoint of Epoch[")]
    assert resumed and int(resumed[0].split("[")[1].split("]")[0]) >= killed_at - 1
    epochs = [e.epoch for e in JobEvent.objects.filter(job_id=job["id"], kind="metric", batch__isnull=True)]
    assert sorted(set(epochs)) == list(range(12))  # every epoch is there once the run is whole
    states = [e.data["state"] for e in JobEvent.objects.filter(job_id=job["id"], kind="state")]
    assert states[-3:] == ["queued", "running", "succeeded"]
    assert (Path(media) / finished.artifact).exists()
