"""S3's ``aws-chunked`` upload bodies, decoded as they arrive, with each chunk's signature and the trailing
checksum checked.

A chunk is ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n``; a zero-size chunk ends the data, then
come trailer lines (``x-amz-checksum-crc32:<base64>``, and ``x-amz-trailer-signature:<sig>`` when signed)
and an empty line. Signed chunks (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]``) chain: each chunk's
signature covers the previous one's, starting from the request's own ("seed") signature, so no chunk can be
changed, dropped or moved. A signed chunk's data is released only once its signature is checked, so a chunk
is held whole: at most :data:`MAX_SIGNED_CHUNK` bytes. Unsigned chunks are released as they come; the
caller holds back the last piece until :meth:`Decoder.finish` has checked the trailing checksum.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from botocore.httpchecksum import _CHECKSUM_CLS  # botocore's own CRC32/SHA classes (CRC32C with awscrt)

from webapp.aws.errors import AwsError

UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
MODES = (UNSIGNED_TRAILER, SIGNED, SIGNED_TRAILER)
MAX_SIGNED_CHUNK = 16 << 20
MAX_LINE = 4096
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def incomplete() -> AwsError:
    return AwsError(400, "IncompleteBody", "You did not provide the number of bytes specified by the "
                                           "Content-Length HTTP header.")


def _bad_chunk(words: str) -> AwsError:
    return AwsError(400, "InvalidRequest", f"The aws-chunked body is malformed: {words}.")


def _signature_mismatch() -> AwsError:
    return AwsError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                  "signature you provided. Check your key and signing method.")


@dataclass(frozen=True)
class ChunkSigning:
    """What chunk signatures are computed from: the signing key's inputs and the request's seed signature."""

    secret: str
    timestamp: str  # the request's X-Amz-Date
    scope: str  # <date>/<region>/<service>/aws4_request
    seed_signature: str

    def key(self) -> bytes:
        key = ("AWS4" + self.secret).encode()
        for part in self.scope.split("/"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return key

    def chunk(self, key: bytes, previous: str, data_sha256: str) -> str:
        text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.timestamp, self.scope, previous, EMPTY_SHA256,
                          data_sha256])
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()

    def trailer(self, key: bytes, previous: str, trailer_text: bytes) -> str:
        text = "\n".join(["AWS4-HMAC-SHA256-TRAILER", self.timestamp, self.scope, previous,
                          hashlib.sha256(trailer_text).hexdigest()])
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def checksum_for(trailer_name: str | None):
    """A fresh checksum object for the trailer header ``x-amz-checksum-<algorithm>`` (None: no trailer)."""
    if not trailer_name:
        return None
    name = trailer_name.strip().lower()
    algorithm = name.removeprefix("x-amz-checksum-")
    if not name.startswith("x-amz-checksum-") or algorithm not in _CHECKSUM_CLS:
        raise AwsError(400, "InvalidRequest", f"The trailing checksum {trailer_name!r} is not one this server "
                                              f"can check; use x-amz-checksum-crc32, -sha1 or -sha256.")
    return _CHECKSUM_CLS[algorithm]()


class Decoder:
    """Feed the body's bytes as they arrive; get back the object's bytes, checked as far as they can be."""

    def __init__(self, *, signing: ChunkSigning | None = None, trailer: str | None = None,
                 decoded_length: int | None = None):
        self.signing, self.trailer_name = signing, (trailer or "").strip().lower() or None
        self.checksum = checksum_for(self.trailer_name)
        self.decoded_length = decoded_length
        self.key = signing.key() if signing else None
        self.previous = signing.seed_signature if signing else ""
        self.buffer = bytearray()
        self.state = "size"
        self.remaining = 0
        self.chunk_signature = ""
        self.chunk = bytearray()  # a signed chunk's data, until its signature is checked
        self.trailers: dict[str, str] = {}
        self.trailer_text = b""
        self.decoded = 0

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        out: list[bytes] = []
        while self.buffer:
            if self.state == "size":
                line = self._line()
                if line is None:
                    break
                self._start_chunk(line)
            elif self.state == "data":
                take = min(self.remaining, len(self.buffer))
                piece = bytes(self.buffer[:take])
                del self.buffer[:take]
                self.remaining -= take
                if self.signing:
                    self.chunk += piece
                else:
                    self._release(piece, out)
                if self.remaining == 0:
                    self.state = "data-end"
            elif self.state == "data-end":
                if len(self.buffer) < 2:
                    break
                if self.buffer[:2] != b"\r\n":
                    raise _bad_chunk("a chunk's data is longer than its size says")
                del self.buffer[:2]
                if self.signing:
                    self._check_chunk(bytes(self.chunk))
                    self._release(bytes(self.chunk), out)
                    self.chunk = bytearray()
                self.state = "size"
            elif self.state == "trailer":
                line = self._line()
                if line is None:
                    break
                if line == "":
                    self.state = "done"
                else:
                    self._trailer_line(line)
            else:
                raise _bad_chunk("there are bytes after the final chunk")
        return out

    def finish(self) -> None:
        """The body has ended: raise unless it was whole, its last signature right and its checksum too."""
        if self.state != "done":
            raise incomplete()
        if self.decoded_length is not None and self.decoded != self.decoded_length:
            raise incomplete()
        if self.signing and self.trailer_name:
            signature = self.trailers.get("x-amz-trailer-signature", "")
            expected = self.signing.trailer(self.key, self.previous, self.trailer_text)
            if not hmac.compare_digest(expected, signature):
                raise _signature_mismatch()
        if self.checksum is not None:
            sent = self.trailers.get(self.trailer_name)
            if sent is None:
                raise AwsError(400, "InvalidRequest", f"The body ended without its {self.trailer_name} trailer.")
            if not hmac.compare_digest(self.checksum.b64digest(), sent):
                algorithm = self.trailer_name.removeprefix("x-amz-checksum-").upper()
                raise AwsError(400, "BadDigest", f"The {algorithm} you specified did not match the calculated "
                                                 f"checksum.")

    def _line(self) -> str | None:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            if len(self.buffer) > MAX_LINE:
                raise _bad_chunk("a chunk header or trailer line is too long")
            return None
        line = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[:end + 2]
        return line

    def _start_chunk(self, line: str) -> None:
        size_text, _, extension = line.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise _bad_chunk(f"{size_text[:20]!r} is not a chunk size") from None
        if self.signing:
            name, _, signature = extension.partition("=")
            if name.strip() != "chunk-signature" or not signature:
                raise _bad_chunk("a chunk has no chunk-signature")
            if size > MAX_SIGNED_CHUNK:
                raise _bad_chunk(f"a signed chunk is larger than {MAX_SIGNED_CHUNK} bytes")
            self.chunk_signature = signature.strip()
        self.decoded += size
        if self.decoded_length is not None and self.decoded > self.decoded_length:
            raise _bad_chunk("the chunks hold more than x-amz-decoded-content-length says")
        if size:
            self.remaining, self.state = size, "data"
            return
        if self.signing:
            self._check_chunk(b"")  # the final, empty chunk is signed as well
        self.state = "trailer"

    def _check_chunk(self, data: bytes) -> None:
        expected = self.signing.chunk(self.key, self.previous, hashlib.sha256(data).hexdigest())
        if not hmac.compare_digest(expected, self.chunk_signature):
            raise _signature_mismatch()
        self.previous = expected

    def _trailer_line(self, line: str) -> None:
        name, colon, value = line.partition(":")
        if not colon:
            raise _bad_chunk(f"the trailer line {line[:40]!r} is not 'name:value'")
        name = name.strip().lower()
        self.trailers[name] = value.strip()
        if name != "x-amz-trailer-signature":
            self.trailer_text += f"{name}:{value.strip()}\n".encode("latin-1")

    def _release(self, piece: bytes, out: list[bytes]) -> None:
        if piece:
            if self.checksum is not None:
                self.checksum.update(piece)
            out.append(piece)
