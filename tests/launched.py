"""The one command as a user runs it: ``python -m webapp.launch`` on a fresh copy of this work tree, and a
newcomer who signs up through its form and then drives the JSON API with the token it gives. Shared by the
launcher's tests and the fault tests."""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.network import free_port
from tests.support import REPO
from tests.support.waiting import wait_until


def descendants(pid: int) -> dict[int, str]:
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


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class Launch:
    clone: Path
    process: subprocess.Popen
    log: Path
    base: str
    signed_up: bool = False

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def tracked_and_new_files() -> list[str]:
    """What a fresh clone of this work tree holds: tracked files and new ones not ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [name for name in listed if name and (REPO / name).is_file()]


@contextmanager
def launched(folder: Path, **settings: str) -> Iterator[Launch]:
    """``python -m webapp.launch`` on a fresh copy of this work tree in ``folder`` (no ``var/``), with
    ``settings`` as environment variables; stopped with Ctrl-C (then killed, children too) on leaving."""
    clone = folder / "icstudio"
    for name in tracked_and_new_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / name).read_bytes())
        target.chmod((REPO / name).stat().st_mode)
    assert not (clone / "var").exists()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "ICSTUDIO_VAR", "MEDIA_ROOT", "MODEL_STORE", "PYTHONPATH")
           and not k.startswith("S3_")}  # no S3_ENDPOINT_URL: it starts its own store
    # A set key (so nothing writes var/secret_key first), and a heartbeat fast enough for a test.
    env.update(SECRET_KEY=uuid.uuid4().hex * 2, TRAINING_HEARTBEAT_SECONDS="1", TRAINING_STALE_SECONDS="4", **settings)
    port = free_port()
    log = folder / "launcher.log"
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
        wait_until(serving, "the launcher to serve", timeout=120, step=0.5)
        yield launch
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                for pid in descendants(process.pid):
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


def signed_up(launch: Launch) -> Newcomer:
    """The newcomer of this launch, signed up through the form once, then signed in (cookie and token)."""
    newcomer = Newcomer(launch.base)
    password = "first-steps-2026"
    if not launch.signed_up:
        newcomer.submit_form("/signup/", {"username": "newcomer", "password1": password, "password2": password})
        launch.signed_up = True
    assert newcomer.submit_form("/signin/", {"username": "newcomer", "password": password}) == f"{launch.base}/"
    newcomer.token = newcomer.api("POST", "/api/auth/token/", {"username": "newcomer", "password": password})["token"]
    return newcomer
