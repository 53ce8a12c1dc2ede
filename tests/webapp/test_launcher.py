"""The one command: it starts Redis, the web server and a worker, and Ctrl-C stops them all."""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _wait_for_http(url: str, launcher: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert launcher.poll() is None, launcher.stdout.read()
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def test_one_command_starts_everything_and_ctrl_c_stops_it(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["ICSTUDIO_VAR"] = str(tmp_path / "var")  # a fresh SQLite database and media folder
    launcher = subprocess.Popen([sys.executable, "-m", "webapp.launch", "--port", str(port), "--concurrency", "1"],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_http(f"{base}/signin/", launcher)
        cookies = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))

        def post(path, fields):
            page = browser.open(f"{base}{path}").read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
            data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
            request = urllib.request.Request(f"{base}{path}", data=data, headers={"Referer": f"{base}{path}"})
            return browser.open(request)

        post("/signup/", {"username": "newcomer", "password1": "first-steps-2026", "password2": "first-steps-2026"})
        response = post("/signin/", {"username": "newcomer", "password": "first-steps-2026"})
        assert response.url == f"{base}/"
        assert "Datasets" in browser.open(f"{base}/").read().decode()
        assert _processes_mentioning("celery -A workers worker") and _processes_mentioning(f"uvicorn webapp.config.asgi:application --host 127.0.0.1 --port {port}")
    finally:
        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=60)
    assert launcher.returncode == 0, output
    assert f"IC Studio is running at http://127.0.0.1:{port}/" in output
    time.sleep(0.5)
    assert _processes_mentioning(f"uvicorn webapp.config.asgi:application --host 127.0.0.1 --port {port}") == []
    assert _processes_mentioning(str(tmp_path)) == []
    assert [p for p in _processes_mentioning("celery -A workers worker") if _parent_is_gone(p)] == []


def _parent_is_gone(pid: int) -> bool:
    """Orphans of a killed launcher are re-parented to init."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[3] == "1"
    except OSError:
        return False
