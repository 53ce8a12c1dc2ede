"""Tiny, quickly learnt image sets for tests of the training options."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from classifier import recordio

COLOURS = np.array([(220, 40, 40), (40, 200, 40), (40, 40, 220)], np.uint8)


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def colour_image(rng: np.random.Generator, label: int, size: int) -> np.ndarray:
    pixels = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
    top, left = rng.integers(0, size // 2, 2)
    pixels[top : top + size // 2, left : left + size // 2] = COLOURS[label]
    return pixels


def blob_image(rng: np.random.Generator, labels: np.ndarray, size: int) -> np.ndarray:
    """Multi-label: class c present <=> a square of colour c in quadrant c."""
    pixels = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
    half = size // 2
    for c in np.flatnonzero(labels):
        top, left = (0, 0) if c == 0 else (0, half) if c == 1 else (half, 0)
        pixels[top : top + half, left : left + half] = COLOURS[c]
    return pixels


def write_colours(path: Path, count: int, *, size: int = 32, seed: int = 0) -> Path:
    """``count`` images of 3 classes (the colour of a square), as ``path`` .rec + .idx."""
    rng = np.random.default_rng(seed)
    with recordio.IndexedRecordWriter(path, path.with_suffix(".idx")) as writer:
        for index in range(count):
            label = index % 3
            header = recordio.IRHeader(0, float(label), index, 0)
            writer.write(index, recordio.pack_record(header, jpeg(colour_image(rng, label, size))))
    return path


def write_blobs(path: Path, count: int, *, size: int = 32, seed: int = 0) -> Path:
    """``count`` multi-label images of 3 classes with multi-hot labels (flag 3)."""
    rng = np.random.default_rng(seed)
    with recordio.IndexedRecordWriter(path, path.with_suffix(".idx")) as writer:
        for index in range(count):
            labels = rng.integers(0, 2, 3)
            labels[0] = labels[0] if index % 4 else 1  # class 0 common, so weights matter
            header = recordio.IRHeader(0, labels.astype(np.float32).tolist(), index, 0)
            writer.write(index, recordio.pack_record(header, jpeg(blob_image(rng, labels, size))))
    return path
