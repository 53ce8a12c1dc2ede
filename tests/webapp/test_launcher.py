"""The one command on a fresh clone: `python -m webapp.launch` in a copy of the repository with no var/,
SECRET_KEY set and no REDIS_URL (so it starts its own Redis). A newcomer signs up and trains; the gpu
worker is killed mid-job; the launcher starts it again, the beat schedule requeues the job and it
finishes. Then Ctrl-C stops everything, Redis last, without a traceback.

One launcher start serves the two tests that need one. It keeps its own SQLite database in the copy's
state folder, so these tests are skipped in `./dev test`'s PostgreSQL pass, which would run them unchanged.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import websockets.sync.client

from tests.launched import Newcomer, alive, descendants, launched, signed_up, tracked_and_new_files
from tests.support.images import COLOURS, jpeg_bytes, zip_bytes
from tests.support.waiting import wait_until
from webapp.launch import Supervisor

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                                reason="the launcher uses its own SQLite in its state folder, whatever the pass")


def _files_outside(folder: Path, clone: Path, since: set[str]) -> list[str]:
    made = {str(p.relative_to(clone)) for p in clone.rglob("*") if p.is_file()} - since
    return sorted(name for name in made if not (clone / name).is_relative_to(folder) and "__pycache__" not in name)


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    if subprocess.run(["git", "rev-parse"], cwd=REPO, capture_output=True).returncode:
        pytest.skip("not a git checkout: no way to tell what a fresh clone holds")
    with launched(tmp_path_factory.mktemp("fresh")) as launch:
        yield launch


def _training_job(newcomer: Newcomer, *, epochs: int) -> int:
    """A ResNet-20 on red and blue 32x32 squares: uploaded as a zip, split, frozen, submitted."""
    dataset = newcomer.api("POST", "/api/datasets/", {"name": "colours"})["id"]
    archive = zip_bytes({f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
                         for name in ("red", "blue") for i in range(24)})
    assert newcomer.api("POST", f"/api/datasets/{dataset}/uploads/", files={"colours.zip": archive})["accepted"] == 48
    newcomer.api("POST", f"/api/datasets/{dataset}/split/", {"train_ratio": 0.75, "seed": 0})
    version = newcomer.api("POST", f"/api/datasets/{dataset}/versions/")["id"]
    wait_until(lambda: newcomer.api("GET", f"/api/versions/{version}/")["status"] == "ready", "the version", 120)
    return newcomer.api("POST", "/api/jobs/", {"version": version, "hyperparameters": {
        "num_layers": "20", "image_shape": "3,32,32", "epochs": str(epochs), "mini_batch_size": "8",
        "learning_rate": "0.05"}})["id"]


def _wait_for_an_epoch(newcomer: Newcomer, job: int) -> None:
    wait_until(lambda: (j := newcomer.api("GET", f"/api/jobs/{job}/"))["state"] == "running" and j["epoch"] >= 1,
               "an epoch to finish", 240)


def test_a_killed_worker_s_job_is_requeued_by_the_beat_schedule_and_finishes(fresh_clone):
    newcomer = signed_up(fresh_clone)
    job = _training_job(newcomer, epochs=10)

    def job_state():
        return newcomer.api("GET", f"/api/jobs/{job}/")

    _wait_for_an_epoch(newcomer, job)
    gpu_workers = [pid for pid, command in descendants(fresh_clone.process.pid).items()
                   if "celery" in command and "gpu@" in command]
    assert gpu_workers
    os.killpg(os.getpgid(gpu_workers[0]), signal.SIGKILL)  # as a crash: no warm shutdown, no acknowledgement

    finished = wait_until(lambda: (j := job_state())["state"] in ("succeeded", "failed", "cancelled") and j,
                          "the job to finish", 300, step=1)
    assert finished["state"] == "succeeded", finished["reason"]
    events = newcomer.api("GET", f"/api/jobs/{job}/metrics/")
    states = [e["state"] for e in events if e["type"] == "state"]
    assert states[-3:] == ["queued", "running", "succeeded"]
    assert any("stopped responding" in e.get("reason", "") for e in events if e["type"] == "state")
    assert any(e.get("line", "").startswith("Resuming from the checkpoint") for e in events if e["type"] == "log")
    output = fresh_clone.output()
    assert "gpu-worker was killed by SIGKILL" in output and "starting gpu-worker again" in output

    state = fresh_clone.clone / "var"
    assert list(state.glob("celerybeat-schedule*"))
    assert _files_outside(state, fresh_clone.clone, set(tracked_and_new_files())) == []


def test_ctrl_c_stops_the_web_server_and_workers_then_redis_without_a_traceback(fresh_clone):
    # As a newcomer leaves it: a page open on its live notices, a job training.
    newcomer = signed_up(fresh_clone)
    job = _training_job(newcomer, epochs=500)
    _wait_for_an_epoch(newcomer, job)
    session = next(c.value for c in newcomer.cookies if c.name == "sessionid")
    page = websockets.sync.client.connect(f"{fresh_clone.base.replace('http', 'ws')}/ws/notices/",
                                          additional_headers={"Cookie": f"sessionid={session}",
                                                              "Origin": fresh_clone.base})
    children = descendants(fresh_clone.process.pid)
    assert any("redis-server" in c for c in children.values()) and any("uvicorn" in c for c in children.values())
    try:
        fresh_clone.process.send_signal(signal.SIGINT)
        fresh_clone.process.wait(timeout=90)
    finally:
        page.close()
    output = fresh_clone.output()
    assert fresh_clone.process.returncode == 0, output
    assert f"IC Studio is running at {fresh_clone.base}/" in output
    assert "Traceback" not in output and "ConnectionRefusedError" not in output, output
    assert [pid for pid in children if alive(pid)] == []


def test_a_process_that_keeps_dying_at_start_is_restarted_then_given_up_on_by_name():
    supervisor = Supervisor(quick_exits_allowed=2)
    supervisor.start("flaky-worker", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    try:
        given_up = wait_until(supervisor.check, "the launcher to give up", timeout=60, step=0.1)
    finally:
        supervisor.stop()
    assert given_up.startswith("flaky-worker exited with status 3, and it has exited 3 times in a row"), given_up
