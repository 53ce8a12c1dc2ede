"""Photo-like 96x96 crops of four classes for the newcomer's path: textures with noise, lighting and
position that vary, so a network has to learn something, yet a small ResNet learns it in minutes."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("bricks", "leaves", "sky", "stones")
SIZE = 96


def _background(rng: np.random.Generator, tint) -> np.ndarray:
    base = np.array(tint, np.float32) + rng.normal(0, 25, 3)
    gradient = np.linspace(-30, 30, SIZE)[:, None, None] * rng.uniform(-1, 1)
    return base + gradient + rng.normal(0, 18, (SIZE, SIZE, 3))


def crop(label: int, rng: np.random.Generator) -> Image.Image:
    name = CLASSES[label]
    if name == "bricks":  # a reddish wall with mortar lines, at a random offset and scale
        pixels = _background(rng, (165, 70, 50))
        row = int(rng.integers(10, 18))
        shift = int(rng.integers(0, row))
        for y in range(shift, SIZE, row):
            pixels[y : y + 2] = 200 + rng.normal(0, 10)
            offset = 0 if (y // row) % 2 else row
            for x in range(offset + shift, SIZE, 2 * row):
                pixels[y : y + row, x : x + 2] = 200
    elif name == "leaves":  # green blobs of many sizes on darker green
        pixels = _background(rng, (50, 110, 40))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(12, 25))):
            x, y = rng.integers(-10, SIZE, 2)
            w, h = rng.integers(8, 24, 2)
            shade = tuple(int(v) for v in rng.integers((30, 120, 20), (90, 200, 70)))
            draw.ellipse((x, y, x + w, y + h), fill=shade)
        pixels = np.asarray(image, np.float32)
    elif name == "sky":  # a smooth blue gradient with soft white clouds
        pixels = _background(rng, (110, 160, 225)) * 0.5 + np.array((110, 160, 225)) * 0.5
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(1, 5))):
            x, y = rng.integers(-20, SIZE, 2)
            draw.ellipse((x, y, x + int(rng.integers(25, 60)), y + int(rng.integers(12, 30))), fill=(235, 240, 245))
        pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(3)), np.float32)
    else:  # stones: grey polygons with dark gaps
        pixels = _background(rng, (70, 70, 72))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(6, 14))):
            cx, cy = rng.integers(0, SIZE, 2)
            radius = int(rng.integers(8, 20))
            angles = np.sort(rng.uniform(0, 2 * np.pi, 6))
            grey = int(rng.integers(110, 190))
            draw.polygon([(cx + radius * np.cos(a), cy + radius * np.sin(a)) for a in angles], fill=(grey, grey, grey - 5))
        pixels = np.asarray(image, np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def write_folder(root: Path, *, per_class: int = 45, loose: int = 20, seed: int = 0) -> dict[str, int]:
    """``root/<class>/<n>.jpg`` for each class, ``loose`` unlabeled crops in ``root`` itself, and three
    corrupt files a camera card might hold. Returns the labels of the loose files by name."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (root / name / f"{name}-{i:03d}.jpg").write_bytes(jpeg(crop(label, rng)))
    loose_labels = {}
    for i in range(loose):
        label = i % len(CLASSES)
        loose_labels[f"IMG_{1000 + i}.jpg"] = label
        (root / f"IMG_{1000 + i}.jpg").write_bytes(jpeg(crop(label, rng)))
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.jpg").write_bytes(b"shopping list: milk, eggs")
    (root / CLASSES[0] / "cut-short.jpg").write_bytes(jpeg(crop(0, rng))[:900])
    return loose_labels
