"""Images and archives made on the fly: noisy colour JPEGs, random PNGs, zips of named members."""
from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

COLOURS = {"red": (220, 40, 40), "blue": (40, 40, 220), "green": (40, 200, 40)}
# The classes of the session's trained colour model (the colour_artifact fixture), in its label order.
COLOUR_CLASSES = ["red", "green", "blue"]


def jpeg_bytes(colour=(200, 30, 30), size=(64, 48), seed=0, **save) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(0, 20, (size[1], size[0], 3)) + colour, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


def png_bytes(size=(40, 40), seed=0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def colour_jpeg(label: int, seed: int = 0, size: int = 32) -> bytes:
    """A JPEG of the colour model's class ``label`` (an index into COLOUR_CLASSES)."""
    from tests.classifier.synthetic import colour_image, jpeg

    return jpeg(colour_image(np.random.default_rng(seed), label, size))
