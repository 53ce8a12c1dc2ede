"""The store, asked over HTTP/1.1 from the event loop: a request's body streamed up as it is checked, the
answer streamed back as it comes. Small on purpose (no dependency): a connection of its own for each upload,
kept-alive ones reused for bodiless requests; the response framed by Content-Length, chunked transfer
coding, or the connection's end.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

READ_SIZE = 1 << 20
HEAD_LIMIT = 1 << 20
BUFFERED = 4 << 20
IDLE_PER_STORE = 16
CONNECT_SECONDS = 10
# Hop-by-hop headers (RFC 9110 7.6.1) and the framing this client sets itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "transfer-encoding", "upgrade", "expect", "content-length"})


# Connections kept open between bodiless requests (downloads' ranged GETs, HEADs, listings), per event loop
# and store: a new TCP connection each time cost the store more CPU than the transfer (measured).
_idle: dict[tuple, list["_Stream"]] = {}


class StoreUnreachable(Exception):
    """The store did not answer (refused, reset, or an answer that is not HTTP)."""


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], connection: "Connection", method: str):
        self.status, self.headers = status, headers
        self._connection, self._stream = connection, connection.stream
        names = {name.lower(): value for name, value in headers}
        self._chunked = "chunked" in names.get("transfer-encoding", "").lower()
        length = names.get("content-length")
        self._length = int(length) if length and length.strip().isdigit() else None
        self._empty = method == "HEAD" or status in (204, 304) or (self._length == 0 and not self._chunked)
        # Kept for the next request once this answer is read to its end, if its framing says where that is.
        self._reusable = connection.keep_alive and "close" not in names.get("connection", "").lower() and (
            self._empty or self._chunked or self._length is not None)
        self._done = False

    async def body(self) -> AsyncIterator[bytes]:
        stream = self._stream
        if self._empty:
            self._done = True
            return
        if self._chunked:
            while True:
                size = int((await stream.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while (await stream.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers: none that a client needs from the store
                    self._done = True
                    return
                async for data in _exactly(stream, size):
                    yield data
                await stream.readexactly(2)
        elif self._length is not None:
            async for data in _exactly(stream, self._length):
                yield data
            self._done = True
        else:
            while data := await stream.read(READ_SIZE):
                yield data

    def close(self) -> None:
        if self._done and self._reusable and self._stream.alive():
            _idle.setdefault(self._connection.pool_key, []).append(self._stream)
            del _idle[self._connection.pool_key][:-IDLE_PER_STORE]
        else:
            self._stream.transport.close()


async def _exactly(stream: "_Stream", size: int) -> AsyncIterator[bytes]:
    """The next ``size`` bytes of the answer, as they arrive."""
    remaining = size
    while remaining:
        data = await stream.read(min(remaining, READ_SIZE))
        if not data:
            raise StoreUnreachable("the store closed the connection mid-answer")
        remaining -= len(data)
        yield data


class _Stream(asyncio.Protocol):
    """The store's socket with the bytes it receives kept as the event loop hands them over (no copying
    into one buffer, as asyncio's StreamReader does: that cost a third of a core at 100 MB/s), paused
    while more than :data:`BUFFERED` wait to be read, and the write side's flow control."""

    def __init__(self):
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.eof = False
        self.lost: Exception | None = None
        self.transport = None
        self._readable = None
        self._writable = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > BUFFERED:
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self):
        self.eof = True
        self._wake_reader()

    def connection_lost(self, error):
        self.eof = True
        self.lost = error or ConnectionResetError("the store closed the connection")
        self._wake_reader()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self):
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self):
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def _wake_reader(self):
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    async def _wait_readable(self):
        if not self.chunks and not self.eof:
            self._readable = asyncio.get_running_loop().create_future()
            await self._readable
            self._readable = None

    def _take(self) -> bytes:
        data = self.chunks.popleft()
        self.buffered -= len(data)
        if self.buffered <= BUFFERED // 2 and not self.eof:
            self.transport.resume_reading()
        return data

    async def read(self, limit: int) -> bytes:
        """Up to ``limit`` bytes as they came; b"" at the end."""
        await self._wait_readable()
        if not self.chunks:
            return b""
        data = self._take()
        if len(data) > limit:
            self.chunks.appendleft(data[limit:])
            self.buffered += len(data) - limit
            data = data[:limit]
        return data

    async def readuntil(self, separator: bytes, limit: int = HEAD_LIMIT) -> bytes:
        gathered = bytearray()
        while True:
            while self.chunks:
                gathered += self._take()
                found = gathered.find(separator)
                if found >= 0:
                    end = found + len(separator)
                    if end < len(gathered):
                        rest = bytes(gathered[end:])
                        self.chunks.appendleft(rest)
                        self.buffered += len(rest)
                    return bytes(gathered[:end])
            if len(gathered) > limit:
                raise asyncio.LimitOverrunError("the store's header lines are too long", len(gathered))
            if self.eof:
                raise asyncio.IncompleteReadError(bytes(gathered), None)
            await self._wait_readable()

    async def readexactly(self, size: int) -> bytes:
        parts = []
        while size:
            data = await self.read(size)
            if not data:
                raise asyncio.IncompleteReadError(b"".join(parts), size)
            parts.append(data)
            size -= len(data)
        return b"".join(parts)

    def alive(self) -> bool:
        """Open, and nothing unread on it: fit to carry another request."""
        return not self.eof and self.lost is None and not self.chunks and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self.lost is not None:
            raise ConnectionResetError("the store closed the connection")
        self.transport.write(data)

    async def drain(self) -> None:
        if self._writable is not None:
            await self._writable
        if self.lost is not None:
            raise ConnectionResetError("the store closed the connection")


class Connection:
    """One request's connection to ``endpoint`` (``http[s]://host[:port]``)."""

    def __init__(self, endpoint: str):
        parts = urlsplit(endpoint)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.tls else 80)
        self.stream: _Stream | None = None
        self.head = b""
        self.keep_alive = self.reused = False
        self.pool_key = (id(asyncio.get_running_loop()), self.host, self.port, self.tls)

    async def open(self, *, reuse: bool = False) -> None:
        """A new connection; or, with ``reuse``, one a finished request left open, if there is one."""
        self.keep_alive = reuse
        idle = _idle.get(self.pool_key, [])
        while reuse and idle:
            stream = idle.pop()
            if stream.alive():
                self.stream, self.reused = stream, True
                return
            stream.transport.close()
        loop = asyncio.get_running_loop()
        try:
            _, self.stream = await asyncio.wait_for(loop.create_connection(
                _Stream, self.host, self.port, ssl=ssl.create_default_context() if self.tls else None),
                CONNECT_SECONDS)
        except (OSError, asyncio.TimeoutError) as error:
            raise StoreUnreachable(f"cannot connect to the store at {self.host}:{self.port}: {error}") from None

    def send_head(self, method: str, target: str, headers: list[tuple[str, str]], length: int | None) -> None:
        """Kept until the first :meth:`send`, which sends it with the first bytes of the body."""
        lines = [f"{method} {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        if not self.keep_alive:
            lines.append("Connection: close")
        self.head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(self, data: bytes) -> bool:
        """Whether the store still takes the body (it may have answered early, and closed)."""
        if self.head:
            data, self.head = self.head + data, b""
        try:
            self.stream.write(data)
            await self.stream.drain()
            return True
        except (ConnectionError, OSError):
            return False

    async def response(self, method: str) -> Response:
        try:
            while True:
                head = await self.stream.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                version, _, rest = lines[0].partition(" ")
                if not version.startswith("HTTP/"):
                    raise StoreUnreachable(f"the store answered {lines[0][:60]!r}, not HTTP")
                status = int(rest.split(" ", 1)[0])
                if status >= 200 or status == 101:
                    break  # 1xx (100 Continue) are interim: the answer follows
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError, ValueError) as error:
            raise StoreUnreachable(f"the store gave no answer: {type(error).__name__}") from None
        headers = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.append((name.strip(), value.strip()))
        return Response(status, headers, self, method)

    def abort(self) -> None:
        """Drop the connection with the request unfinished: the store discards what it was sent."""
        if self.stream is not None and self.stream.transport is not None:
            # A reset, not a FIN: SeaweedFS keeps an empty object when a PUT's connection ends cleanly
            # before its first body byte (measured), and a store is to keep nothing of a refused upload.
            sock = self.stream.transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            self.stream.transport.abort()
