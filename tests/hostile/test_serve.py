"""``classifier serve`` against hostile clients (issue 11, items 3 and 5): a real server on 127.0.0.1 in this
process, so its threads and memory are this process's. Today's code read a ``Content-Length: -1`` body to
its end into memory and gave every half-sent request a thread forever."""
from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
from pathlib import Path

import PIL.Image
import pytest

from classifier.http_server import make_server
from tests.support.images import colour_jpeg

CHUNK = bytes(1 << 20)


def rss_mb() -> float:
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024


@pytest.fixture
def server(colour_artifact):
    started = make_server(colour_artifact, "127.0.0.1", 0, timeout=1.0, max_connections=16, max_pixels=1000 * 1000)
    thread = threading.Thread(target=started.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield started
    started.shutdown()
    started.server_close()
    thread.join(timeout=10)


def connect(server, timeout: float = 10) -> socket.socket:
    return socket.create_connection(server.server_address, timeout=timeout)


def read_answer(connection: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := connection.recv(65536):
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if length and len(body) >= int(length.group(1)):
                break
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def post(server, head_lines: list[str], body_chunks=(), *, limit: int = 1 << 30) -> tuple[bytes, int]:
    """Send a request head and then body chunks until the server stops taking them; its answer and bytes sent."""
    sent = 0
    with connect(server) as connection:
        connection.sendall(("\r\n".join(["POST /invocations HTTP/1.1", "Host: x", "Content-Type: image/jpeg",
                                         *head_lines]) + "\r\n\r\n").encode())
        connection.settimeout(2)
        try:
            for chunk in body_chunks:
                connection.sendall(chunk)
                sent += len(chunk)
                if sent >= limit:
                    break
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading
        connection.settimeout(10)
        return read_answer(connection), sent


def status(answer: bytes) -> int:
    assert answer, "no answer"
    return int(answer.split(b" ", 2)[1])


def test_bad_lengths_are_refused_before_a_byte_of_the_body_is_read(server):
    before = rss_mb()
    answer, sent = post(server, ["Content-Length: -1"], iter(lambda: CHUNK, None), limit=512 << 20)
    assert status(answer) == 400 and b"not a number of bytes" in answer, answer[:300]
    assert sent < 64 << 20, f"{sent >> 20} MB of a body with length -1 were taken"
    assert status(post(server, ["Content-Length: lots"])[0]) == 400
    assert status(post(server, [])[0]) == 411
    assert status(post(server, ["Transfer-Encoding: chunked"])[0]) == 411
    answer, _ = post(server, [f"Content-Length: {1 << 30}"])  # nothing sent: answered without waiting for it
    assert status(answer) == 413 and b"at most" in answer
    assert rss_mb() - before < 100
    image = colour_jpeg(0)
    answer, _ = post(server, [f"Content-Length: {len(image)}"], [image])
    assert status(answer) == 200 and len(json.loads(answer.partition(b"\r\n\r\n")[2])) == 3


def test_half_sent_requests_time_out_and_the_threads_stay_bounded(server):
    threads_before, rss_before = threading.active_count(), rss_mb()
    connections = []
    for _ in range(200):  # each promises 1,000 bytes and sends ten
        connection = connect(server)
        connection.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                           b"Content-Length: 1000\r\n\r\n" + bytes(10))
        connections.append(connection)
    time.sleep(0.2)
    assert threading.active_count() - threads_before <= server.max_connections
    # Beyond the bound a connection is told at once that the server is busy, in SageMaker's words.
    busy = read_answer(connections[-1])
    assert status(busy) == 503 and b"ServiceUnavailable" in busy and b"busy" in busy
    # The held ones give their threads back after the timeout (1 s here), and the server answers again.
    deadline = time.monotonic() + 10
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threading.active_count() <= threads_before
    assert status(read_answer(connections[0])) == 408
    for connection in connections:
        connection.close()
    image = colour_jpeg(1)
    answer, _ = post(server, [f"Content-Length: {len(image)}"], [image])
    assert status(answer) == 200
    assert rss_mb() - rss_before < 100


def test_an_image_over_the_pixel_cap_is_refused_from_its_header(server):
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (2000, 1000)).save(buffer, "PNG")  # two megapixels, a few kilobytes
    image = buffer.getvalue()
    answer, _ = post(server, [f"Content-Length: {len(image)}"], [image])
    assert status(answer) == 413, answer[:300]
    assert b"2000x1000 pixels" in answer and b"1,000,000" in answer and b"ValidationError" in answer
