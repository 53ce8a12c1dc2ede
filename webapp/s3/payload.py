"""An S3 request's body, read from ASGI as it arrives and checked as ``x-amz-content-sha256`` says: a hex
SHA-256 compared at the end, ``UNSIGNED-PAYLOAD`` taken as it is, ``STREAMING-*`` decoded from aws-chunked
(chunk signatures, trailing checksum). The last piece is held back until the whole body is checked, so a
body that fails never reaches the store whole: the caller drops the store connection with the upload
unfinished and the store keeps nothing.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

from webapp.aws.errors import AwsError
from webapp.s3 import chunked

# AWS's largest PutObject and UploadPart.
MAX_OBJECT_BYTES = 5 << 30


class ClientGone(Exception):
    """The client disconnected before its body was all sent."""


def too_large() -> AwsError:
    return AwsError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")


class Payload:
    """How long the object's bytes are and how to check them, decided from the headers."""

    def __init__(self, headers: dict[str, str], signing: chunked.ChunkSigning | None):
        declared = headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        self.sha256 = declared if declared not in ("UNSIGNED-PAYLOAD",) and not declared.startswith("STREAMING-") \
            else None
        self.decoder = None
        if declared.startswith("STREAMING-"):
            if declared not in chunked.MODES:
                raise AwsError(501, "NotImplemented", f"x-amz-content-sha256 {declared} is not supported here; "
                                                      f"use {chunked.SIGNED} or {chunked.UNSIGNED_TRAILER}.")
            if not headers.get("x-amz-decoded-content-length", "").isdigit():
                raise AwsError(411, "MissingContentLength", "You must provide the Content-Length HTTP header "
                                                            "(x-amz-decoded-content-length for aws-chunked).")
            self.length = int(headers["x-amz-decoded-content-length"])
            trailer = headers.get("x-amz-trailer") if declared != chunked.SIGNED else None
            self.decoder = chunked.Decoder(signing=signing if declared != chunked.UNSIGNED_TRAILER else None,
                                           trailer=trailer, decoded_length=self.length)
        else:
            length = headers.get("content-length")
            self.length = int(length) if length and length.isdigit() else 0
        self.received = 0
        if self.length > MAX_OBJECT_BYTES:
            raise too_large()

    async def pieces(self, receive) -> AsyncIterator[bytes]:
        """The object's bytes; AwsError (before the last piece) if the body is not what was signed."""
        digest = hashlib.sha256() if self.sha256 else None
        held = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            data = message.get("body", b"")
            more = message.get("more_body", False)
            self.received += len(data)
            if self.received > MAX_OBJECT_BYTES + (1 << 20):
                raise too_large()
            for piece in (self.decoder.feed(data) if self.decoder else [data] if data else []):
                if digest is not None:
                    digest.update(piece)
                if held:
                    yield held
                held = piece
        if self.decoder:
            self.decoder.finish()
        elif self.received != self.length:
            raise chunked.incomplete()
        if digest is not None and not hmac.compare_digest(digest.hexdigest(), self.sha256):
            raise AwsError(400, "XAmzContentSHA256Mismatch",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.")
        if held:
            yield held

    async def read_all(self, receive, limit: int) -> bytes:
        """A small body whole (a CreateBucket's configuration), checked."""
        if self.length > limit:
            raise AwsError(400, "MaxMessageLengthExceeded", "Your request was too big.")
        parts = []
        async for piece in self.pieces(receive):
            parts.append(piece)
            if sum(map(len, parts)) > limit:
                raise AwsError(400, "MaxMessageLengthExceeded", "Your request was too big.")
        return b"".join(parts)
