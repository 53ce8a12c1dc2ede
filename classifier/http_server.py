"""The SageMaker inference-container contract for one model: no web app, database or Redis.

``GET /ping``, ``POST /invocations`` and ``POST /endpoints/<name>/invocations`` (what boto3's
``sagemaker-runtime`` calls when given an ``endpoint_url``), plus ``GET /execution-parameters``,
which SageMaker batch transform asks a container for. One thread per connection, HTTP/1.1
keep-alive, and TCP_NODELAY: without it Nagle's algorithm and delayed ACKs add ~45 ms a request.
Requests from all connections meet in one :class:`MicroBatcher`.

It has no authentication, as SageMaker's own containers have none: SageMaker's front end signs
callers in and only it can reach the container. Anything else must keep the port private.

A hostile or broken client costs little: a body's length is checked before a byte is read (missing:
411; negative or not a number: 400; over the limit: 413), every read has a timeout (a half-sent
request gives up its thread after ``timeout`` seconds), and at most ``max_connections`` connections
hold a thread. One more is answered 503 at once, not held in the listen backlog: a client (and a load
balancer's health check) then hears that the container is busy, and SageMaker clients retry a 503,
where a held connection would wait unseen behind whoever holds the threads.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from classifier.invocation_contract import (MAX_PAYLOAD_BYTES, MAX_PIXELS, InvocationError, check_image, check_pixels,
                                   check_request, render)
from classifier.batched_prediction import MicroBatcher

log = logging.getLogger(__name__)
_DRAIN_LIMIT = 64 << 20
_INVOCATIONS = re.compile(r"^/(?:endpoints/[^/]+/)?invocations/?$")


class InvocationServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 resets clients that connect together

    def __init__(self, address: tuple[str, int], batcher: MicroBatcher, max_bytes: int, *,
                 max_connections: int = 64, timeout: float = 60.0, max_pixels: int = MAX_PIXELS):
        super().__init__(address, InvocationHandler)
        self.batcher = batcher
        self.max_bytes, self.max_pixels, self.read_timeout = max_bytes, max_pixels, timeout
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self._busy(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()  # no thread was started to give it back
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _busy(self, request: socket.socket) -> None:
        """Answer 503 from the accepting thread, without blocking it: every handler thread is taken."""
        body = InvocationError(503, f"the server is busy: all {self.max_connections} connections are taken; "
                                    "try again shortly").body()
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
                "\r\nx-amzn-ErrorType: ServiceUnavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode()
        try:
            request.setblocking(False)
            try:
                request.recv(65536)  # what has already come, so closing does not reset the connection
            except OSError:
                pass
            request.send(head + body)  # a fresh socket's send buffer holds it: this does not block
        except OSError:
            pass
        self.shutdown_request(request)


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

    def setup(self) -> None:
        self.timeout = self.server.read_timeout  # every read and write on the connection, headers included
        super().setup()

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        length = None
        try:
            length = self._length()
            if not _INVOCATIONS.match(path):
                raise InvocationError(404, f"no such resource {path}: POST images to /invocations")
            kind = check_request(self.headers.get("Content-Type"), self.headers.get("Accept"), length,
                                 self.server.max_bytes)
            body = self.rfile.read(length)
            short, length = len(body) < length, 0  # read: nothing is left to discard
            if short:
                raise InvocationError(400, "the body ended before its Content-Length")
            check_image(body, self.server.max_bytes)
            check_pixels(body, self.server.max_pixels)
            answer = self.server.batcher.predict(body)
            if answer.error:
                raise InvocationError(400, answer.error)
            payload, kind = render(answer.probabilities, kind)
            extra = {"X-IC-Batch-Size": str(answer.batch_size), "X-IC-Model-Ms": f"{answer.model_ms:.2f}"}
        except TimeoutError:
            self.close_connection = True
            self._error(InvocationError(408, f"the body did not arrive within {self.server.read_timeout:g} s"))
            return
        except InvocationError as error:
            if length is None or length > 0:
                self.close_connection = True  # its body is unread, so the next request cannot be found
            self._error(error)
            if length:
                self._discard(length)  # after the answer: so the client, still sending, hears it
            return
        self._send(200, payload, kind, extra)

    def _length(self) -> int:
        """The body's declared length, refused before a byte of the body is read."""
        raw = self.headers.get("Content-Length")
        if raw is None:
            chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
            raise InvocationError(411, ("chunked bodies are not taken" if chunked else "Content-Length is missing")
                                  + ": send one image with a Content-Length")
        if not raw.strip().isdigit():
            raise InvocationError(400, f"Content-Length {raw.strip()[:40]!r} is not a number of bytes")
        return int(raw)

    def _discard(self, length: int) -> None:
        """Read (and drop) an unwanted body, so the client hears the error instead of a reset connection."""
        if length > _DRAIN_LIMIT:
            return  # not worth reading; the client sees the connection close
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:
            pass  # the timeout, or the client left

    def _error(self, error: InvocationError) -> None:
        code = {503: "ServiceUnavailable"}.get(error.status, "ValidationError" if error.status < 500 else "InternalFailure")
        self._send(error.status, error.body(), "application/json", {"x-amzn-ErrorType": code})

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
                window: float = 0.002, max_bytes: int | None = None, max_connections: int = 64,
                timeout: float = 60.0, max_pixels: int = MAX_PIXELS) -> InvocationServer:
    """Load ``model`` (a model.tar.gz or its unpacked directory) and bind; call ``serve_forever``.

    No authentication: bind to a private address, or put it behind something that signs callers in."""
    from classifier.inference import Predictor

    batcher = MicroBatcher(Predictor(model), max_batch=max_batch, window=window)
    return InvocationServer((host, port), batcher, max_bytes or MAX_PAYLOAD_BYTES, max_connections=max_connections,
                            timeout=timeout, max_pixels=max_pixels)
