"""Leases on jobs, builds and transforms (webapp/core/leases.py), with a real Celery worker on a real
Redis: a queued row whose message the broker lost is sent again and runs once; a build whose worker died is
resumed; work whose workers keep dying ends failed with its reason; the lease holds through evaluation,
and a job is finished (evaluated, registered, "succeeded") once."""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from tests.support.api import colour_version, upload
from tests.support.images import COLOURS, jpeg_bytes
from tests.support.waiting import wait_until
from webapp.datasets.models import DatasetVersion
from webapp.training.models import JobEvent, TrainingJob

pytestmark = pytest.mark.django_db(transaction=True)
TINY = {"num_layers": "20", "image_shape": "3,32,32", "epochs": "2", "mini_batch_size": "8", "learning_rate": "0.05"}


@contextmanager
def _worker(app, queues):
    from workers import presence

    try:
        with start_worker(app, queues=queues, perform_ping_check=False, pool="solo", shutdown_timeout=30):
            yield
    finally:
        presence.stop()


def _redis(app):
    return app.pool.acquire(block=True)


def _frozen(api, *, per_class=12) -> int:
    """A frozen version (queued: no worker runs yet) of red and blue 32x32 squares."""
    dataset = api.post("/api/datasets/", {"name": "colours"}, format="json").json()["id"]
    files = {f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
             for name in ("red", "blue") for i in range(per_class)}
    assert upload(api, dataset, files).json()["accepted"] == len(files)
    api.post(f"/api/datasets/{dataset}/split/", {"train_ratio": 0.75, "seed": 0}, format="json")
    return api.post(f"/api/datasets/{dataset}/versions/").json()["id"]


def _states(job_id: int) -> list[str]:
    return [e.data["state"] for e in JobEvent.objects.filter(job_id=job_id, kind="state")]


def test_queued_work_whose_message_the_broker_lost_is_sent_again_and_runs_once(
        api, broker, settings, channel_layer_redis):
    from webapp.core.broker import held_task_ids
    from webapp.core.tasks import requeue_stale_jobs

    settings.WORK_RESEND_SECONDS = 1
    version = _frozen(api)
    sent = DatasetVersion.objects.get(id=version)
    assert sent.task_id and sent.sent  # each message is recorded on its row
    time.sleep(1.2)
    # Waiting in the queue behind others, past the grace period: left alone, not duplicated.
    assert requeue_stale_jobs() == []
    with _redis(broker) as connection:
        assert connection.default_channel.client.llen("cpu") == 1
        connection.default_channel.client.delete("cpu")  # as a Redis restarted without persistence
    assert sent.task_id not in held_task_ids(broker, {"cpu", "gpu"}, taken_within=60)
    assert requeue_stale_jobs() == [version]
    assert DatasetVersion.objects.get(id=version).task_id != sent.task_id
    with _worker(broker, ["cpu"]):
        wait_until(lambda: DatasetVersion.objects.get(id=version).status == "ready", timeout=60)
    # A job queued, then Redis restarted under it (its message lost) before a gpu worker took it.
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": TINY}, format="json").json()["id"]
    with _redis(broker) as connection:
        assert connection.default_channel.client.delete("gpu") == 1
    time.sleep(1.2)
    assert requeue_stale_jobs() == [job]
    with _worker(broker, ["gpu"]):
        finished = wait_until(lambda: (j := TrainingJob.objects.get(id=job)).finished_state and j, timeout=120)
        time.sleep(1)  # a duplicate delivery, if any, would have reached the worker by now
    assert finished.state == "succeeded", finished.reason
    assert _states(job).count("running") == 1 and _states(job).count("succeeded") == 1
    epochs = [e.epoch for e in JobEvent.objects.filter(job_id=job, kind="metric", batch__isnull=True)]
    assert epochs == [0, 1]


def test_a_build_whose_worker_died_is_requeued_and_finishes_without_its_partial_files(api, broker, media):
    from classifier.recordio import RecordReader
    from webapp.datasets.services.building import versions_requeue_stale

    version = _frozen(api)
    with _redis(broker) as connection:
        connection.default_channel.client.delete("cpu")  # its message went with the worker that died
    row = DatasetVersion.objects.get(id=version)
    folder = Path(media) / row.directory
    folder.mkdir(parents=True)
    (folder / "train.rec.partial").write_bytes(b"torn")  # what the killed worker was writing
    DatasetVersion.objects.filter(id=version).update(status="building", progress=0.15, worker="celery@lost",
                                                     heartbeat=timezone.now() - timedelta(hours=1))
    assert versions_requeue_stale() == [version]
    assert versions_requeue_stale() == []  # once
    row = DatasetVersion.objects.get(id=version)
    assert row.status == "queued" and row.attempts == 1 and "celery@lost stopped responding" in row.error
    with _worker(broker, ["cpu"]):
        wait_until(lambda: DatasetVersion.objects.get(id=version).status == "ready", timeout=60)
    assert not list(folder.glob("*.partial"))
    with RecordReader(folder / "train.rec") as records:
        assert sum(1 for _ in records) == 18


def test_work_whose_worker_stopped_three_times_ends_failed_with_the_reason(api, alice, broker, channel_layer_redis):
    from webapp.datasets.services.building import versions_requeue_stale
    from webapp.core.leases import JOBS, claim
    from webapp.training.services import jobs_requeue_stale

    version = _frozen(api)
    DatasetVersion.objects.filter(id=version).update(status="ready")
    job = TrainingJob.objects.create(owner=alice, version_id=version, hyperparameters=TINY)
    for stop in range(3):  # a worker claims it, then dies (out of memory, say): its beat goes stale
        assert claim(JOBS, job.id, worker=f"celery@box{stop}")
        TrainingJob.objects.filter(id=job.id).update(heartbeat=timezone.now() - timedelta(hours=1))
        requeued = jobs_requeue_stale()
        assert requeued == ([job.id] if stop < 2 else [])
    job.refresh_from_db()
    assert job.state == "failed" and job.finished
    assert job.reason.startswith("its worker stopped 3 times while running it"), job.reason
    assert "celery@box2 stopped responding" in job.reason
    assert _states(job.id)[-1] == "failed"
    assert not claim(JOBS, job.id, worker="celery@late")  # a late delivery does not revive it

    DatasetVersion.objects.filter(id=version).update(status="building", attempts=2,
                                                     heartbeat=timezone.now() - timedelta(hours=1))
    assert versions_requeue_stale() == []
    assert DatasetVersion.objects.get(id=version).status == "failed"
    assert "stopped 3 times" in DatasetVersion.objects.get(id=version).error


@pytest.fixture
def slow_evaluation(monkeypatch, settings):
    """Evaluation made to take longer than the stale interval; ``during`` runs inside it, once."""
    from webapp.training import running

    settings.TRAINING_HEARTBEAT_SECONDS = 1
    settings.TRAINING_STALE_SECONDS = 2
    real = running._evaluate
    hooks = {"during": None, "seen": []}

    def evaluate(job, *args):
        time.sleep(3.5)
        during, hooks["during"] = hooks["during"], None
        if during:
            hooks["seen"].append(during(job))
        return real(job, *args)

    monkeypatch.setattr(running, "_evaluate", evaluate)
    return hooks


def test_the_lease_is_kept_through_a_long_evaluation(api, worker, slow_evaluation, channel_layer_redis):
    from webapp.training.services import jobs_requeue_stale

    version = colour_version(api, per_class=12)
    slow_evaluation["during"] = lambda job: (TrainingJob.objects.get(id=job.id).heartbeat, jobs_requeue_stale())
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": TINY}, format="json").json()["id"]
    finished = wait_until(lambda: (j := TrainingJob.objects.get(id=job)).finished_state and j, timeout=120)
    assert finished.state == "succeeded", finished.reason
    [(heartbeat, requeued)] = slow_evaluation["seen"]
    assert requeued == []  # not taken for dead while it evaluates
    assert timezone.now() - heartbeat < timedelta(seconds=2.5)
    assert _states(job) == ["queued", "running", "succeeded"] or _states(job) == ["running", "succeeded"]


def test_a_job_finished_by_two_workers_is_evaluated_registered_and_succeeded_once(
        api, worker, slow_evaluation, channel_layer_redis):
    from webapp.registry.models import RegisteredModel
    from webapp.training.models import Evaluation
    from webapp.training.running import job_run

    version = colour_version(api, per_class=12)

    def second_worker(job):
        # The first worker is taken for dead while it evaluates (its beats held up, as by a stalled machine):
        # another one gets the job and finishes it first.
        TrainingJob.objects.filter(id=job.id).update(heartbeat=timezone.now() - timedelta(hours=1), lease="held-up")
        return job_run(job_id=job.id, worker="celery@second")

    slow_evaluation["during"] = second_worker
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": TINY}, format="json").json()["id"]
    wait_until(lambda: slow_evaluation["seen"], timeout=120)
    time.sleep(5)  # the first worker reaches its end too
    assert slow_evaluation["seen"] == ["succeeded"]
    assert TrainingJob.objects.get(id=job).state == "succeeded"
    assert _states(job).count("succeeded") == 1, _states(job)
    assert RegisteredModel.objects.filter(job_id=job).count() == 1 and Evaluation.objects.filter(job_id=job).count() == 1
    ready = [e for e in JobEvent.objects.filter(job_id=job, kind="log") if "is ready to predict" in e.data["line"]]
    assert len(ready) == 1
