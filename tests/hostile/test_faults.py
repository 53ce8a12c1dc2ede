"""A bad day under the one command (`python -m webapp.launch` on a fresh copy), in one launcher run: the cpu
worker is SIGKILLed mid-build, the gpu worker mid-training, the serving worker mid-invocations, and Redis (no
persistence) is killed with a job queued. The launcher starts each again; the web server answers throughout;
every build and job ends once (one "succeeded", no epoch twice) and nothing is left queued or running.

Stale leases are found fast here (beat 1 s, stale after 4 s, lost messages resent after 3 s), as settings."""
from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.launched import Launch, Newcomer, descendants, launched, signed_up
from tests.support.images import COLOURS, jpeg_bytes, zip_bytes
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                                reason="the launcher uses its own SQLite in its state folder, whatever the pass")
HYPERPARAMETERS = {"num_layers": "20", "image_shape": "3,32,32", "mini_batch_size": "8", "learning_rate": "0.05"}


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    with launched(tmp_path_factory.mktemp("faults"), WORK_RESEND_SECONDS="3", SERVING_TIMEOUT_SECONDS="10") as launch:
        yield launch


class Watch(threading.Thread):
    """Asks the web server for a page every quarter second; keeps whatever went unanswered."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.failures, self.asked = url, [], 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            self.asked += 1
            try:
                urllib.request.urlopen(self.url, timeout=5).read()
            except OSError as error:
                self.failures.append(f"{time.strftime('%H:%M:%S')} {error}")


def _kill(launch: Launch, marker: str) -> int:
    """SIGKILL the launcher's child whose command line holds ``marker``, with its group (as a crash)."""
    [pid] = [pid for pid, command in descendants(launch.process.pid).items()
             if marker in command and os.getpgid(pid) == pid]
    os.killpg(pid, signal.SIGKILL)
    return pid


def _database(launch: Launch) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{launch.clone / 'var' / 'icstudio.sqlite3'}?mode=ro", uri=True, timeout=10)


def _job(newcomer: Newcomer, version: int, epochs: int) -> int:
    return newcomer.api("POST", "/api/jobs/", {"version": version, "hyperparameters": {
        **HYPERPARAMETERS, "epochs": str(epochs)}})["id"]


def _finished(newcomer: Newcomer, job: int, timeout: float) -> dict:
    return wait_until(lambda: (j := newcomer.api("GET", f"/api/jobs/{job}/"))["state"] in ("succeeded", "failed",
                                                                                             "cancelled") and j,
                      f"job {job} to finish", timeout, step=0.5)


def _ran_once(newcomer: Newcomer, job: int, epochs: int) -> list[dict]:
    events = newcomer.api("GET", f"/api/jobs/{job}/metrics/")
    states = [e["state"] for e in events if e["type"] == "state"]
    assert states.count("succeeded") == 1 and states[-1] == "succeeded", states
    ends = [e["epoch"] for e in events if e["type"] == "metric" and e["batch"] is None]
    assert ends == list(range(epochs)), ends  # every epoch once, in order
    return events


def _invoke(launch: Launch, token: str, image: bytes) -> int:
    request = urllib.request.Request(f"{launch.base}/invocations", data=image, method="POST",
                                     headers={"Content-Type": "image/jpeg", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_killed_workers_and_a_redis_restart_lose_nothing_and_do_nothing_twice(launch):
    watch = Watch(f"{launch.base}/signin/")
    watch.start()
    newcomer = signed_up(launch)
    database = _database(launch)

    # 1. The cpu worker killed mid-build: its version is resumed by the restarted worker, once.
    dataset = newcomer.api("POST", "/api/datasets/", {"name": "colours"})["id"]
    archive = zip_bytes({f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
                         for name in ("red", "blue") for i in range(300)})
    assert newcomer.api("POST", f"/api/datasets/{dataset}/uploads/", files={"colours.zip": archive})["accepted"] == 600
    newcomer.api("POST", f"/api/datasets/{dataset}/split/", {"train_ratio": 0.75, "seed": 0})
    for _ in range(3):  # a build takes a fraction of a second: caught building, or tried again
        version = newcomer.api("POST", f"/api/datasets/{dataset}/versions/")["id"]
        deadline = time.monotonic() + 60
        while (status := database.execute("SELECT status FROM datasets_datasetversion WHERE id = ?",
                                          (version,)).fetchone()[0]) == "queued" and time.monotonic() < deadline:
            time.sleep(0.002)
        if status == "building":
            _kill(launch, "cpu@")
            if newcomer.api("GET", f"/api/versions/{version}/")["status"] == "building":
                break
            wait_until(lambda: "starting cpu-worker again" in launch.output(), "the cpu worker back", 30)
    else:
        pytest.fail("no build was caught building in three tries")
    built = wait_until(lambda: (v := newcomer.api("GET", f"/api/versions/{version}/"))["status"] in ("ready", "failed")
                       and v, "the killed build to finish", 60)
    assert built["status"] == "ready", built
    assert not list((launch.clone / "var" / "media").rglob("*.partial"))

    # 2. The gpu worker killed mid-training: the job resumes from its checkpoint on the restarted worker.
    first = _job(newcomer, version, epochs=6)
    wait_until(lambda: (j := newcomer.api("GET", f"/api/jobs/{first}/"))["state"] == "running" and j["epoch"] >= 1,
               "an epoch to finish", 120)
    _kill(launch, "gpu@")
    wait_until(lambda: [e["state"] for e in newcomer.api("GET", f"/api/jobs/{first}/metrics/")
                        if e["type"] == "state"].count("running") == 2, "the job to resume", 90)

    # 3. Redis killed (it keeps nothing) while a job waits behind the first: its message is lost, and resent.
    second = _job(newcomer, version, epochs=2)
    assert newcomer.api("GET", f"/api/jobs/{second}/")["state"] == "queued"
    _kill(launch, "redis-server")
    wait_until(lambda: "starting redis again" in launch.output(), "Redis back", 30)
    assert _finished(newcomer, first, 150)["state"] == "succeeded"
    assert _finished(newcomer, second, 120)["state"] == "succeeded"
    first_events = _ran_once(newcomer, first, epochs=6)
    assert any("stopped responding" in e.get("reason", "") for e in first_events if e["type"] == "state")
    _ran_once(newcomer, second, epochs=2)
    assert "gone from the broker: sending it again" in launch.output()

    # 4. The serving worker killed mid-invocations: each is answered, and predictions come back.
    image = jpeg_bytes(COLOURS["red"], size=(32, 32), seed=1)
    assert _invoke(launch, newcomer.token, image) == 200
    answers, stop = [], threading.Event()

    def invoke_until_stopped():
        while not stop.is_set():
            answers.append((time.monotonic(), _invoke(launch, newcomer.token, image)))

    callers = [threading.Thread(target=invoke_until_stopped, daemon=True) for _ in range(4)]
    for caller in callers:
        caller.start()
    wait_until(lambda: len(answers) >= 8, "invocations under way", 30, step=0.05)
    _kill(launch, "workers.serving_worker")
    killed = time.monotonic()
    wait_until(lambda: "starting serving-worker again" in launch.output(), "the serving worker back", 30)
    wait_until(lambda: any(at > killed and status == 200 for at, status in answers), "a prediction after", 60, 0.2)
    stop.set()
    for caller in callers:
        caller.join(timeout=40)
    assert not any(caller.is_alive() for caller in callers)  # none hangs
    assert {status for _, status in answers} <= {200, 503, 504}, answers

    # Nothing stuck, and the web server answered all along.
    watch.stopped.set()
    watch.join()
    assert watch.failures == [] and watch.asked > 100, watch.failures
    database = _database(launch)
    assert database.execute("SELECT count(*) FROM training_trainingjob WHERE state IN ('queued', 'running')"
                            ).fetchone()[0] == 0
    assert database.execute("SELECT count(*) FROM datasets_datasetversion WHERE status IN ('queued', 'building')"
                            ).fetchone()[0] == 0
    assert database.execute("SELECT count(*) FROM registry_registeredmodel WHERE job_id IN (?, ?)", (first, second)
                            ).fetchone()[0] == 2
