"""IC Studio's real ASGI server (uvicorn: HTTP and WebSockets) in a process of its own, for the tests that talk
to it as clients do: browsers, boto3, the SageMaker SDK."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support import REPO
from tests.support.databases import TEST_REDIS, database_url
from tests.support.network import free_port


@contextmanager
def web_server(settings, media: Path, *, env: Mapping[str, str] = {}, tls: tuple[Path, Path] | None = None
               ) -> Iterator[str]:
    """Its base URL, on the test database, ``media`` and the test Redis, until the block ends; ``env`` adds
    settings (the store's, say); ``tls`` is a (certificate, key) pair to serve HTTPS with."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"]), "MEDIA_ROOT": str(media),
                   "REDIS_URL": TEST_REDIS, **env}
    certificate = ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])] if tls else []
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "webapp.config.asgi:application", "--port", str(port),
                               "--no-access-log", *certificate], cwd=REPO, env=environment)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)
