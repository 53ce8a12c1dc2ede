"""Folder -> ``.lst`` -> ``.rec``/``.idx``: what MXNet's ``im2rec.py`` does, without MXNet.

Images are re-encoded in worker processes with OpenCV, as im2rec.py does (so resizing matches
it), and written in ``.lst`` order by this process. Large JPEGs are decoded at reduced scale
(libjpeg's DCT scaling) when the result is resized anyway, which is where most of the time of a
camera-size photo goes. Every file is first checked to be a complete JPEG or PNG, with
``pass_through`` too, so a truncated or foreign file is reported and skipped rather than packed.
"""
from __future__ import annotations

import io
import multiprocessing
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
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


JPEG_SIGNATURE, PNG_SIGNATURE = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"


def _jpeg_scan_start(data: bytes) -> int:
    """Offset of the first scan's compressed data, walking the marker segments (an EXIF thumbnail,
    with its own end marker, sits inside one and is skipped)."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError("broken JPEG marker structure")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == 0xDA:
            return position + 2 + length
        position += 2 + length
    raise ValueError("truncated JPEG: no image data")


def check_complete(data: bytes) -> str:
    """The format of a JPEG or PNG whose data is all there, else ValueError. Cheap: no decoding.

    Entropy-coded JPEG data never holds an FF D9 pair (0xFF is always stuffed), so an end-of-image
    marker after the first scan starts means the file was not cut short. PNG chunks carry CRCs,
    which Pillow's ``verify`` checks up to the IEND chunk.
    """
    if data.startswith(JPEG_SIGNATURE):
        if data.rfind(b"\xff\xd9") < _jpeg_scan_start(data):
            raise ValueError("truncated JPEG: the end-of-image marker is missing")
        return "JPEG"
    if data.startswith(PNG_SIGNATURE):
        Image.open(io.BytesIO(data)).verify()
        return "PNG"
    raise ValueError("not a JPEG or PNG file")


def _reduction(data: bytes, options: PackOptions) -> int:
    """The largest of libjpeg's 1/2, 1/4, 1/8 decode scales that still leaves the shorter side at
    least ``resize`` (after the centre crop, which keeps the shorter side)."""
    width, height = Image.open(io.BytesIO(data)).size  # refuses decompression bombs before decoding
    factor = 1
    while options.resize and factor < 8 and min(width, height) // (factor * 2) >= options.resize:
        factor *= 2
    return factor


# Parallelism comes from the worker processes; OpenCV's own threads would only fight them.
cv2.setNumThreads(1)

_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


def _reencode(data: bytes, options: PackOptions) -> bytes:
    """Decode (applying EXIF orientation), crop, resize and encode as im2rec.py does with OpenCV."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED[_reduction(data, options)])
    if pixels is None:
        raise ValueError("the image data cannot be decoded")
    if options.center_crop:
        height, width = pixels.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        pixels = pixels[top : top + side, left : left + side]
    if options.resize:
        height, width = pixels.shape[:2]
        if width > height:
            size = (width * options.resize // height, options.resize)
        else:
            size = (options.resize, height * options.resize // width)
        if size != (width, height):
            pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)
    if options.encoding == ".png":
        ok, encoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, min(max(options.quality, 0), 9)])
    else:
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, options.quality])
    if not ok:
        raise ValueError("the image cannot be encoded")
    return encoded.tobytes()


_PASS = b""  # a pass-through image that checked out: the writer reads the file itself


def encode_entry(job: tuple[lst.ListEntry, str, PackOptions]) -> tuple[bytes | None, str | None]:
    """One record's bytes, or the reason the image was skipped. Runs in a worker process."""
    entry, path, options = job
    try:
        with open(path, "rb") as source:
            data = source.read()
        with warnings.catch_warnings():
            # A decompression bomb is an image to skip, not a warning to print.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            check_complete(data)
            payload = _PASS if options.pass_through else _reencode(data, options)
    except FileNotFoundError:
        return None, "file not found"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        return None, f"not a valid image ({error})"
    return payload, None


def _record(entry: lst.ListEntry, payload: bytes, options: PackOptions) -> bytes:
    labels = entry.labels
    label = labels if options.pack_label and len(labels) > 1 else labels[0]
    return recordio.pack_record(recordio.IRHeader(0, label, entry.index, 0), payload)


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
    on_progress: Callable[[int, int], None] | None = None,
    source: Callable[[lst.ListEntry], Path] | None = None,
) -> PackReport:
    """Pack the images of ``lst_path`` (paths relative to ``root``) into ``rec_path`` and its .idx.

    ``on_progress(done, total)`` is called every few dozen images, for callers that show their own
    progress (the web app's version build). ``source(entry)`` says where an entry's image is read
    from when that is not ``root / entry.path`` (the web app lists the names uploaded, and stores
    files by content hash)."""
    if encoding not in (".jpg", ".png"):
        raise ValueError(f"encoding must be .jpg or .png, not {encoding}")
    options = PackOptions(resize, center_crop, quality, encoding, pass_through, pack_label)
    entries = lst.read_lst(lst_path)
    rec_path = Path(rec_path) if rec_path else Path(lst_path).with_suffix(".rec")
    report = PackReport(rec_path, rec_path.with_suffix(".idx"))
    locate = source or (lambda entry: Path(root) / entry.path)
    jobs = ((entry, str(locate(entry)), options) for entry in entries)
    bar = tqdm(total=len(entries), desc=rec_path.name, unit="img", disable=not progress, file=sys.stderr)
    with recordio.IndexedRecordWriter(report.rec_path, report.idx_path) as writer:
        with _pool(num_thread) as pool:
            for entry, (payload, reason) in zip(entries, pool.imap(encode_entry, jobs, chunksize=16)):
                if payload is None:
                    report.skipped.append((entry.path, reason))
                    bar.write(f"skipped {entry.path}: {reason}", file=sys.stderr)
                else:
                    if payload is _PASS:
                        payload = Path(locate(entry)).read_bytes()
                    writer.write(entry.index, _record(entry, payload, options))
                    report.packed += 1
                bar.update()
                done = report.packed + len(report.skipped)
                if on_progress is not None and (done % 50 == 0 or done == len(entries)):
                    on_progress(done, len(entries))
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
