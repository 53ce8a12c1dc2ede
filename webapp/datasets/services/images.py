"""Checking and storing one uploaded image: decode it fully, orient it, thumbnail it once."""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image as Pillow
from PIL import ImageOps

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


def check_image(data: bytes) -> CheckedImage:
    """A real JPEG or PNG that Pillow decodes to the last byte, within the size limits."""
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise Rejected(f"file larger than {settings.IMAGE_MAX_BYTES // (1024 * 1024)} MB")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Pillow.DecompressionBombWarning)
        try:
            image = Pillow.open(io.BytesIO(data))
            if image.format not in EXTENSIONS:
                raise Rejected(f"{image.format or 'unknown'} image; only JPEG and PNG are accepted")
            if image.width * image.height > settings.IMAGE_MAX_PIXELS:
                raise Rejected(f"image of {image.width}x{image.height} pixels is over the limit of "
                               f"{settings.IMAGE_MAX_PIXELS:,} pixels")
            image.load()
        except (Pillow.DecompressionBombWarning, Pillow.DecompressionBombError):
            raise Rejected("decompression bomb: too many pixels for its size") from None
        except Rejected:
            raise
        except (OSError, SyntaxError, ValueError) as error:
            reason = "truncated image" if "truncated" in str(error) else f"not a valid image ({error})"
            raise Rejected(reason) from None
    format_ = image.format
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
    """Write under a temporary name and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(partial, path)


def storage_paths(dataset_id: int, sha256: str, format_: str) -> tuple[str, str]:
    base = f"datasets/{dataset_id}"
    return (f"{base}/images/{sha256[:2]}/{sha256}{EXTENSIONS[format_]}",
            f"{base}/thumbs/{sha256[:2]}/{sha256}.jpg")
