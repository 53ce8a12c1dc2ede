"""Checking and storing one uploaded image: decode it fully, orient it, thumbnail it once."""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image as Pillow
from PIL import ImageOps, UnidentifiedImageError

from classifier.files import write_bytes_atomic
from webapp.core import media

EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png"}
_EXIF_ORIENTATION = 0x0112


class Rejected(Exception):
    """The reason an upload is refused, as shown in the report."""


@dataclass
class CheckedImage:
    data: bytes  # what is stored: the upload, or its re-encoding when EXIF rotated it
    sha256: str  # of the upload's bytes, so the same file uploaded twice is a duplicate
    format: str
    width: int
    height: int
    thumbnail: bytes


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


def too_large(size: int) -> str:
    return f"too large: {_megabytes(size)}, the limit is {_megabytes(settings.IMAGE_MAX_BYTES)}"


def _unidentified(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n"):
        return f"truncated {'JPEG' if data[0] == 0xFF else 'PNG'}: the file ends before the image does"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "unsupported format: a HEIC photo; export it as JPEG"
    return "not an image: the contents are not JPEG or PNG"


def _bomb(error: Exception) -> str:
    # Pillow refuses these before reading their size into the image; its message holds the count.
    counted = re.search(r"\((\d+) pixels\)", str(error))
    pixels = f"{int(counted.group(1)):,} pixels" if counted else "too many pixels"
    return f"too large: {pixels}, the limit is {settings.IMAGE_MAX_PIXELS:,} pixels"


def check_image(data: bytes) -> CheckedImage:
    """A real JPEG or PNG that Pillow decodes to the last byte, within the size limits.

    Reasons are for the person who uploaded the file: ``<what is wrong>: <detail>``, no internals."""
    if not data:
        raise Rejected("empty file: 0 bytes")
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise Rejected(too_large(len(data)))
    format_ = None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Pillow.DecompressionBombWarning)
        try:
            image = Pillow.open(io.BytesIO(data))
            format_ = image.format
            if format_ not in EXTENSIONS:
                raise Rejected(f"unsupported format: a {format_ or 'unknown'} image; only JPEG and PNG are accepted")
            if image.width * image.height > settings.IMAGE_MAX_PIXELS:
                raise Rejected(f"too large: {image.width}x{image.height} pixels, the limit is "
                               f"{settings.IMAGE_MAX_PIXELS:,} pixels")
            image.load()
        except (Pillow.DecompressionBombWarning, Pillow.DecompressionBombError) as error:
            raise Rejected(_bomb(error)) from None
        except Rejected:
            raise
        except UnidentifiedImageError:
            raise Rejected(_unidentified(data)) from None
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            kind = format_ or "image"
            if "truncated" in str(error).lower() or isinstance(error, EOFError):
                raise Rejected(f"truncated {kind}: the file ends before the image does") from None
            raise Rejected(f"damaged {kind}: its image data cannot be decoded") from None
    stored = data
    if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        # Training reads pixels without EXIF, so the rotation is applied once, here.
        image = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        image.save(buffer, format_, **({"quality": 95} if format_ == "JPEG" else {}))
        stored = buffer.getvalue()
    return CheckedImage(stored, hashlib.sha256(data).hexdigest(), format_, image.width, image.height,
                        _thumbnail(image))


def _thumbnail(image: Pillow.Image) -> bytes:
    thumb = image.convert("RGB") if image.mode != "RGB" else image.copy()
    thumb.thumbnail((settings.THUMBNAIL_SIZE, settings.THUMBNAIL_SIZE), Pillow.BILINEAR)
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write under a temporary name and rename, so a crash never leaves half a file. The name is the
    writer's own: the same image uploaded twice at once is written by two requests."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data, unique=True)


def storage_paths(dataset_id: int, sha256: str, format_: str) -> tuple[str, str]:
    return media.image_relatives(dataset_id, sha256, EXTENSIONS[format_])
