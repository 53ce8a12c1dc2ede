"""Folder -> ``.lst`` -> ``.rec``/``.idx``: what MXNet's ``im2rec.py`` does, without MXNet or OpenCV.

Images are decoded in worker processes and written in ``.lst`` order by this process. Large JPEGs
are decoded at reduced scale (libjpeg's DCT scaling through ``Image.draft``) when the result is
resized anyway, which is where most of the time of a camera-size photo goes. Every image is decoded
at least once, even with ``pass_through``, so a corrupt file is reported and skipped rather than
packed.
"""
from __future__ import annotations

import io
import multiprocessing
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps
from tqdm import tqdm

from classifier import lst, recordio
from classifier.errors import ClassifierError


@dataclass
class PackOptions:
    resize: int = 0  # shorter side in pixels; 0 keeps the size
    center_crop: bool = False
    quality: int = 95  # JPEG quality, or PNG compression level (1-9) with encoding .png
    encoding: str = ".jpg"
    pass_through: bool = False
    pack_label: bool = False


@dataclass
class PackReport:
    rec_path: Path
    idx_path: Path
    packed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _decode(data: bytes, options: PackOptions) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    if image.format not in ("JPEG", "PNG"):
        raise ValueError(f"{image.format or 'unknown'} format; only JPEG and PNG are packed")
    if options.pass_through:
        # Smallest decode that still reads every byte of the compressed data.
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
    elif options.resize:
        short = min(image.size)
        side = short if options.center_crop else None
        scale = options.resize / (side or short)
        image.draft("RGB", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    image.load()
    return image


def _transform(image: Image.Image, options: PackOptions) -> Image.Image:
    image = ImageOps.exif_transpose(image)  # as OpenCV's imread does for im2rec
    if image.mode != "RGB":
        image = image.convert("RGB")
    if options.center_crop:
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if options.resize:
        width, height = image.size
        if width > height:
            size = (width * options.resize // height, options.resize)
        else:
            size = (options.resize, height * options.resize // width)
        if size != image.size:
            image = image.resize(size, Image.BILINEAR)
    return image


def _encode(image: Image.Image, options: PackOptions) -> bytes:
    buffer = io.BytesIO()
    if options.encoding == ".png":
        image.save(buffer, "PNG", compress_level=min(max(options.quality, 0), 9))
    else:
        image.save(buffer, "JPEG", quality=options.quality)
    return buffer.getvalue()


def encode_entry(job: tuple[lst.ListEntry, str, PackOptions]) -> tuple[bytes | None, str | None]:
    """One record's bytes, or the reason the image was skipped. Runs in a worker process."""
    entry, path, options = job
    try:
        with open(path, "rb") as source:
            data = source.read()
        with warnings.catch_warnings():
            # A decompression bomb is an image to skip, not a warning to print.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _decode(data, options)
        payload = data if options.pass_through else _encode(_transform(image, options), options)
    except FileNotFoundError:
        return None, "file not found"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        return None, f"not a valid image ({error})"
    labels = entry.labels
    label = labels if options.pack_label and len(labels) > 1 else labels[0]
    return recordio.pack_record(recordio.IRHeader(0, label, entry.index, 0), payload), None


def pack_list(
    lst_path: Path,
    root: Path,
    *,
    rec_path: Path | None = None,
    resize: int = 0,
    center_crop: bool = False,
    quality: int = 95,
    encoding: str = ".jpg",
    pass_through: bool = False,
    num_thread: int = 1,
    pack_label: bool = False,
    progress: bool = True,
) -> PackReport:
    """Pack the images of ``lst_path`` (paths relative to ``root``) into ``rec_path`` and its .idx."""
    if encoding not in (".jpg", ".png"):
        raise ValueError(f"encoding must be .jpg or .png, not {encoding}")
    options = PackOptions(resize, center_crop, quality, encoding, pass_through, pack_label)
    entries = lst.read_lst(lst_path)
    rec_path = Path(rec_path) if rec_path else Path(lst_path).with_suffix(".rec")
    report = PackReport(rec_path, rec_path.with_suffix(".idx"))
    jobs = ((entry, str(Path(root) / entry.path), options) for entry in entries)
    bar = tqdm(total=len(entries), desc=rec_path.name, unit="img", disable=not progress, file=sys.stderr)
    with recordio.IndexedRecordWriter(report.rec_path, report.idx_path) as writer:
        with _pool(num_thread) as pool:
            for entry, (record, reason) in zip(entries, pool.imap(encode_entry, jobs, chunksize=8)):
                if record is None:
                    report.skipped.append((entry.path, reason))
                    bar.write(f"skipped {entry.path}: {reason}", file=sys.stderr)
                else:
                    writer.write(entry.index, record)
                    report.packed += 1
                bar.update()
    bar.close()
    return report


class _InlinePool:
    """``num_thread=1``: no processes to start."""

    def imap(self, function, iterable, chunksize=1):
        return map(function, iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def _pool(processes: int):
    if processes <= 1:
        return _InlinePool()
    return multiprocessing.get_context("fork").Pool(processes)


def make_lists(
    prefix: Path,
    root: Path,
    *,
    recursive: bool = True,
    train_ratio: float = 1.0,
    seed: int = 100,
    exts: tuple[str, ...] = lst.IMAGE_EXTENSIONS,
) -> tuple[list[Path], list[str]]:
    """Write ``PREFIX.lst``, or ``PREFIX_train.lst`` and ``PREFIX_val.lst`` when ``train_ratio`` < 1
    (split per class with ``seed``), plus ``PREFIX_classes.txt``; returns the lists and class names."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    entries, class_names = lst.list_image_folder(root, recursive=recursive, exts=exts)
    if not entries:
        raise ClassifierError(f"{root}: no images ({', '.join(exts)}) found")
    (prefix.parent / f"{prefix.name}_classes.txt").write_text("".join(f"{name}\n" for name in class_names))
    if train_ratio >= 1:
        train, _ = lst.split_stratified(entries, 1.0, seed)
        return [lst.write_lst(prefix.parent / f"{prefix.name}.lst", train)], class_names
    train, validation = lst.split_stratified(entries, train_ratio, seed)
    written = [lst.write_lst(prefix.parent / f"{prefix.name}_train.lst", train)]
    if validation:
        written.append(lst.write_lst(prefix.parent / f"{prefix.name}_val.lst", validation))
    return written, class_names


def lists_for(prefix: Path) -> list[Path]:
    """Every ``PREFIX*.lst`` beside ``prefix``, as im2rec.py picks them."""
    prefix = Path(prefix)
    return sorted(p for p in prefix.parent.glob(f"{prefix.name}*.lst") if p.is_file())
