"""The SageMaker invocation contract (spec 0.4, 5.1, 5.2) without MXNet, for every server that speaks it.

``classifier serve`` and the web app's endpoints both check requests and shape responses here, so a
SageMaker client sees the same answers from either.
"""
from __future__ import annotations

import io
import json
from collections.abc import Sequence

import PIL.Image

JSON = "application/json"
JSON_LINES = "application/jsonlines"
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")
# SageMaker's real-time payload limit.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# A prediction needs no more pixels than the model's input; a 143 KB PNG can claim 49 megapixels.
MAX_PIXELS = 4096 * 4096
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


class InvocationError(Exception):
    """A request the contract refuses, with the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> bytes:
        # "message" is what SageMaker's own refusals carry; "error" is ours.
        return json.dumps({"error": self.message, "message": self.message}).encode()


def media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def check_accept(accept: str | None) -> str:
    """The response type for ``Accept``; a list of types takes the first one we can give."""
    for kind in (media_type(part) for part in (accept or "").split(",")):
        if kind in ("", "*/*", "application/*", JSON):
            return JSON
        if kind == JSON_LINES:
            return JSON_LINES
    raise InvocationError(406, f"cannot answer with Accept {accept!r}: use {JSON} or {JSON_LINES}")


def check_request(content_type: str | None, accept: str | None, length: int | None,
                  max_bytes: int = MAX_PAYLOAD_BYTES) -> str:
    """Refuse what SageMaker refuses before reading the body; return the response type."""
    if media_type(content_type) not in IMAGE_TYPES:
        raise InvocationError(415, f"Content-Type {content_type or '(none)'!r} is not supported: "
                                   f"send one image as {', '.join(IMAGE_TYPES)}")
    if length is not None and length > max_bytes:
        raise InvocationError(413, f"the body is {length} bytes; one image may be at most {max_bytes} bytes")
    return check_accept(accept)


def check_image(body: bytes, max_bytes: int = MAX_PAYLOAD_BYTES) -> None:
    if len(body) > max_bytes:
        raise InvocationError(413, f"the body is {len(body)} bytes; one image may be at most {max_bytes} bytes")
    if not body:
        raise InvocationError(400, "the body is empty: send the bytes of one JPEG or PNG image")
    if not body.startswith(_SIGNATURES):
        raise InvocationError(400, "the body is not a JPEG or PNG image")


def check_pixels(body: bytes, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse, from the image's header alone (nothing is decoded), more pixels than ``max_pixels``."""
    try:
        with PIL.Image.open(io.BytesIO(body)) as header:
            width, height = header.size
    except PIL.Image.DecompressionBombError:
        raise InvocationError(413, f"the image has more pixels than can be decoded; at most {max_pixels:,} "
                                   "pixels are accepted for prediction") from None
    except (PIL.UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InvocationError(400, "the image data is corrupt and cannot be decoded") from None
    if width * height > max_pixels:
        raise InvocationError(413, f"the image is {width}x{height} pixels ({width * height:,}); at most "
                                   f"{max_pixels:,} pixels are accepted for prediction: scale it down first")


def render(probabilities: Sequence[float], accept: str | None) -> tuple[bytes, str]:
    """The response body and content type SageMaker gives for ``accept`` (spec 0.4)."""
    values = [float(p) for p in probabilities]
    try:
        kind = check_accept(accept)
    except InvocationError as error:
        raise ValueError(error.message) from error
    if kind == JSON:
        return json.dumps(values).encode(), JSON
    return (json.dumps({"prediction": values}) + "\n").encode(), JSON_LINES


def json_line(probabilities: Sequence[float], **extra) -> str:
    """One JSON Lines record ``{"prediction": [...]}`` (batch output, with e.g. the file name)."""
    return json.dumps({**extra, "prediction": [float(p) for p in probabilities]})
