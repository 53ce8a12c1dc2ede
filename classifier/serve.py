"""The SageMaker inference-container contract for one model: no web app, database or Redis.

``GET /ping``, ``POST /invocations`` and ``POST /endpoints/<name>/invocations`` (what boto3's
``sagemaker-runtime`` calls when given an ``endpoint_url``), plus ``GET /execution-parameters``,
which SageMaker batch transform asks a container for. One thread per connection, HTTP/1.1
keep-alive, and TCP_NODELAY: without it Nagle's algorithm and delayed ACKs add ~45 ms a request.
Requests from all connections meet in one :class:`MicroBatcher`.
"""
from __future__ import annotations

import json
import logging
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from classifier.invocation import MAX_PAYLOAD_BYTES, InvocationError, check_image, check_request, render
from classifier.serving import MicroBatcher

log = logging.getLogger(__name__)
_DRAIN_LIMIT = 64 << 20
_INVOCATIONS = re.compile(r"^/(?:endpoints/[^/]+/)?invocations/?$")


class InvocationServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 resets clients that connect together

    def __init__(self, address: tuple[str, int], batcher: MicroBatcher, max_bytes: int):
        super().__init__(address, InvocationHandler)
        self.batcher = batcher
        self.max_bytes = max_bytes


class InvocationHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: InvocationServer

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/ping":
            self._send(200, b"{}", "application/json")
        elif path == "/execution-parameters":
            self._send(200, json.dumps({"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD",
                                        "MaxPayloadInMB": self.server.max_bytes >> 20}).encode(), "application/json")
        else:
            self._error(InvocationError(404, f"no such resource {path}: use /ping or POST /invocations"))

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        try:
            if not _INVOCATIONS.match(path):
                raise InvocationError(404, f"no such resource {path}: POST images to /invocations")
            kind = check_request(self.headers.get("Content-Type"), self.headers.get("Accept"), length,
                                 self.server.max_bytes)
            body = self.rfile.read(length)
            check_image(body, self.server.max_bytes)
            answer = self.server.batcher.predict(body)
            if answer.error:
                raise InvocationError(400, answer.error)
            payload, kind = render(answer.probabilities, kind)
            extra = {"X-IC-Batch-Size": str(answer.batch_size), "X-IC-Model-Ms": f"{answer.model_ms:.2f}"}
        except InvocationError as error:
            if error.status in (404, 406, 413, 415):
                self._discard(length)
            self._error(error)
            return
        self._send(200, payload, kind, extra)

    def _discard(self, length: int) -> None:
        """Read an unwanted body, so the client hears the error instead of a reset connection."""
        if length > _DRAIN_LIMIT:
            self.close_connection = True  # not worth reading; the client sees the connection close
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    def _error(self, error: InvocationError) -> None:
        self._send(error.status, error.body(), "application/json")

    def _send(self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for name, value in (extra or {}).items():  # beside SageMaker's answer, never in it
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make_server(model: Path, host: str = "0.0.0.0", port: int = 8080, *, max_batch: int = 32,
                window: float = 0.002, max_bytes: int | None = None) -> InvocationServer:
    """Load ``model`` (a model.tar.gz or its unpacked directory) and bind; call ``serve_forever``."""
    from classifier.inference import Predictor

    batcher = MicroBatcher(Predictor(model), max_batch=max_batch, window=window)
    return InvocationServer((host, port), batcher, max_bytes or MAX_PAYLOAD_BYTES)
