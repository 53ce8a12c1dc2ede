"""A real IC Studio web process to attack: uvicorn in a process of its own, with its own temporary folder, so
a caller can read what an attack cost it: peak memory (the kernel's high-water mark) and the bytes written under
its temporary and media folders. Used by tests/hostile and benchmarks/hostile.py; loopback only."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.network import free_port
from tests.support import REPO
from tests.support.databases import TEST_REDIS, database_url

PASSWORD = "correct-horse-42"


def folder_bytes(folder: Path) -> int:
    """Bytes in files under ``folder`` now (what an attack left behind)."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


@dataclass
class WebProcess:
    url: str
    process: subprocess.Popen
    tmp: Path
    media: Path
    port: int
    log: Path
    extra_env: dict = field(default_factory=dict)

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MB."""
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) / 1024

    def rss_mb(self) -> float:
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024

    def held_temp_bytes(self) -> int:
        """Bytes in unlinked files the process holds open under its temp folder: Python's TemporaryFile
        (what a spooled request body rolls over to) has no name in the folder, so a listing misses it."""
        total = 0
        for fd in Path(f"/proc/{self.process.pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
                if target.startswith(str(self.tmp)) and target.endswith(" (deleted)"):  # named ones are listed
                    total += fd.stat().st_size
            except OSError:
                continue  # closed while being looked at
        return total

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def session(self, username: str, password: str = PASSWORD) -> requests.Session:
        """A browser-like session signed in through the sign-in form (cookie + CSRF token)."""
        session = requests.Session()
        page = session.get(f"{self.url}/signin/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = session.post(f"{self.url}/signin/", timeout=30, allow_redirects=False,
                              data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                              headers={"Referer": f"{self.url}/signin/"})
        assert answer.status_code == 302, f"sign-in as {username} failed: {answer.status_code}"
        session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
        session.headers["Referer"] = f"{self.url}/"
        return session

    def raw(self, request_head: bytes, body_chunks=(), *, timeout: float = 30) -> bytes:
        """Send a hand-made request (head, then body chunks as they come) and return what the server answers,
        reading until it closes or the timeout passes. For bodies no well-behaved client would send."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as connection:
            connection.sendall(request_head)
            try:
                for chunk in body_chunks:
                    connection.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading: what it answered is below
            answer = b""
            try:
                while chunk := connection.recv(65536):
                    answer += chunk
                    if b"\r\n\r\n" in answer and _complete(answer):
                        break
            except (socket.timeout, ConnectionResetError):
                pass
            return answer


def status(answer: bytes) -> int:
    """The status code of a raw answer."""
    assert answer, "the server answered nothing"
    return int(answer.split(b" ", 2)[1])


def header(answer: bytes, name: str) -> str | None:
    """One header of a raw answer (None when absent)."""
    found = re.search(rb"(?im)^" + name.encode() + rb":\s*(.+?)\r$", answer.partition(b"\r\n\r\n")[0])
    return found.group(1).decode() if found else None


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    return match is not None and len(body) >= int(match.group(1))


def start_web_process(database: str, media: Path, folder: Path, *, code: Path = REPO, **env_overrides) -> WebProcess:
    """uvicorn serving the IC Studio found in ``code`` on ``database``; its temp files and log go in ``folder``."""
    port = free_port()
    tmp = folder / "server-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    media.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    env = {**os.environ, "DATABASE_URL": database, "MEDIA_ROOT": str(media),
           "REDIS_URL": TEST_REDIS, "TMPDIR": str(tmp), "FILE_UPLOAD_TEMP_DIR": str(tmp),
           **{key: str(value) for key, value in env_overrides.items()}}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "webapp.config.asgi:application", "--port", str(port),
                                "--no-access-log"], cwd=code, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/signin/", timeout=2)
            break
        except requests.ConnectionError:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
    return WebProcess(f"http://127.0.0.1:{port}", process, tmp, media, port, log, env_overrides)


def start_web(settings, tmp_path: Path, **env_overrides) -> WebProcess:
    """The web process on a test's database and media folder (``env_overrides`` become its settings)."""
    return start_web_process(database_url(settings.DATABASES["default"]), Path(settings.MEDIA_ROOT), tmp_path,
                             **env_overrides)
