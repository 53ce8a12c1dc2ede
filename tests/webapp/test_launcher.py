"""The one command on a fresh clone: `python -m webapp.launch` in a copy of the repository with no var/,
SECRET_KEY set and no REDIS_URL (so it starts its own Redis). A newcomer signs up and trains; the gpu
worker is killed mid-job; the launcher starts it again, the beat schedule requeues the job and it
finishes. Then Ctrl-C stops everything, Redis last, without a traceback.

One launcher start serves the two tests that need one. It keeps its own SQLite database in the copy's
state folder, so these tests are skipped in `./dev test`'s PostgreSQL pass, which would run them unchanged.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets.sync.client

from tests.webapp.conftest import COLOURS, jpeg_bytes, zip_bytes
from webapp.launch import Supervisor

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                                reason="the launcher uses its own SQLite in its state folder, whatever the pass")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, with its command line."""
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(predicate, what: str, timeout: float, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Launch:
    clone: Path
    process: subprocess.Popen
    log: Path
    base: str
    signed_up: bool = False

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _tracked_and_new_files() -> list[str]:
    """What a fresh clone of this work tree holds: tracked files and new ones not ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [name for name in listed if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    if subprocess.run(["git", "rev-parse"], cwd=REPO, capture_output=True).returncode:
        pytest.skip("not a git checkout: no way to tell what a fresh clone holds")
    clone = tmp_path_factory.mktemp("fresh") / "icstudio"
    for name in _tracked_and_new_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / name).read_bytes())
        target.chmod((REPO / name).stat().st_mode)
    assert not (clone / "var").exists()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "ICSTUDIO_VAR", "MEDIA_ROOT", "MODEL_STORE", "PYTHONPATH")}
    # A set key (so nothing writes var/secret_key first), and a heartbeat fast enough for a test.
    env.update(SECRET_KEY=uuid.uuid4().hex * 2, TRAINING_HEARTBEAT_SECONDS="1", TRAINING_STALE_SECONDS="4")
    port = _free_port()
    log = clone.parent / "launcher.log"
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "webapp.launch", "--port", str(port), "--concurrency", "1"],
                                   cwd=clone, env=env, stdout=sink, stderr=subprocess.STDOUT)
    launch = Launch(clone, process, log, f"http://127.0.0.1:{port}")

    def serving():
        assert process.poll() is None, launch.output()
        try:
            return urllib.request.urlopen(f"{launch.base}/signin/", timeout=2).status == 200
        except OSError:
            return False

    try:
        _wait(serving, "the launcher to serve", timeout=120)
        yield launch
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                for pid in _descendants(process.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                process.kill()
                process.wait()


class Newcomer:
    """A person at the sign-up form, then at the JSON API with the token it gives."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.token = ""

    def submit_form(self, path: str, fields: dict) -> str:
        page = self.browser.open(f"{self.base}{path}").read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": csrf}).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, headers={"Referer": f"{self.base}{path}"})
        return self.browser.open(request).url

    def api(self, method: str, path: str, payload: dict | None = None, *, files: dict[str, bytes] | None = None):
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        data = None
        if files:
            boundary = uuid.uuid4().hex
            parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n"
                     for name, content in files.items()]
            data = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def _files_outside(folder: Path, clone: Path, since: set[str]) -> list[str]:
    made = {str(p.relative_to(clone)) for p in clone.rglob("*") if p.is_file()} - since
    return sorted(name for name in made if not (clone / name).is_relative_to(folder) and "__pycache__" not in name)


def _signed_up(launch: Launch) -> Newcomer:
    """The newcomer of this launch, signed up through the form once, then signed in (cookie and token)."""
    newcomer = Newcomer(launch.base)
    password = "first-steps-2026"
    if not launch.signed_up:
        newcomer.submit_form("/signup/", {"username": "newcomer", "password1": password, "password2": password})
        launch.signed_up = True
    assert newcomer.submit_form("/signin/", {"username": "newcomer", "password": password}) == f"{launch.base}/"
    newcomer.token = newcomer.api("POST", "/api/auth/token/", {"username": "newcomer", "password": password})["token"]
    return newcomer


def _training_job(newcomer: Newcomer, *, epochs: int) -> int:
    """A ResNet-20 on red and blue 32x32 squares: uploaded as a zip, split, frozen, submitted."""
    dataset = newcomer.api("POST", "/api/datasets/", {"name": "colours"})["id"]
    archive = zip_bytes({f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
                         for name in ("red", "blue") for i in range(24)})
    assert newcomer.api("POST", f"/api/datasets/{dataset}/uploads/", files={"colours.zip": archive})["accepted"] == 48
    newcomer.api("POST", f"/api/datasets/{dataset}/split/", {"train_ratio": 0.75, "seed": 0})
    version = newcomer.api("POST", f"/api/datasets/{dataset}/versions/")["id"]
    _wait(lambda: newcomer.api("GET", f"/api/versions/{version}/")["status"] == "ready", "the version", 120)
    return newcomer.api("POST", "/api/jobs/", {"version": version, "hyperparameters": {
        "num_layers": "20", "image_shape": "3,32,32", "epochs": str(epochs), "mini_batch_size": "8",
        "learning_rate": "0.05"}})["id"]


def _wait_for_an_epoch(newcomer: Newcomer, job: int) -> None:
    _wait(lambda: (j := newcomer.api("GET", f"/api/jobs/{job}/"))["state"] == "running" and j["epoch"] >= 1,
          "an epoch to finish", 240)


def test_a_killed_worker_s_job_is_requeued_by_the_beat_schedule_and_finishes(fresh_clone):
    newcomer = _signed_up(fresh_clone)
    job = _training_job(newcomer, epochs=10)

    def job_state():
        return newcomer.api("GET", f"/api/jobs/{job}/")

    _wait_for_an_epoch(newcomer, job)
    gpu_workers = [pid for pid, command in _descendants(fresh_clone.process.pid).items()
                   if "celery" in command and "gpu@" in command]
    assert gpu_workers
    os.killpg(os.getpgid(gpu_workers[0]), signal.SIGKILL)  # as a crash: no warm shutdown, no acknowledgement

    finished = _wait(lambda: (j := job_state())["state"] in ("succeeded", "failed", "cancelled") and j,
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
    assert _files_outside(state, fresh_clone.clone, set(_tracked_and_new_files())) == []


def test_ctrl_c_stops_the_web_server_and_workers_then_redis_without_a_traceback(fresh_clone):
    # As a newcomer leaves it: a page open on its live notices, a job training.
    newcomer = _signed_up(fresh_clone)
    job = _training_job(newcomer, epochs=500)
    _wait_for_an_epoch(newcomer, job)
    session = next(c.value for c in newcomer.cookies if c.name == "sessionid")
    page = websockets.sync.client.connect(f"{fresh_clone.base.replace('http', 'ws')}/ws/notices/",
                                          additional_headers={"Cookie": f"sessionid={session}",
                                                              "Origin": fresh_clone.base})
    children = _descendants(fresh_clone.process.pid)
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
    assert [pid for pid in children if _alive(pid)] == []


def test_a_process_that_keeps_dying_at_start_is_restarted_then_given_up_on_by_name():
    supervisor = Supervisor(quick_exits_allowed=2)
    supervisor.start("flaky-worker", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    try:
        given_up = _wait(supervisor.check, "the launcher to give up", timeout=60, step=0.1)
    finally:
        supervisor.stop()
    assert given_up.startswith("flaky-worker exited with status 3, and it has exited 3 times in a row"), given_up
