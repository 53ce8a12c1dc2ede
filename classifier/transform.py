"""Batch transform: every image of a zip or a .rec through a model, one JSON line each, in input order.

Each line is ``{"file": name, "prediction": [...]}`` (spec 0.4); an image that cannot be decoded
gets ``{"file": name, "error": "..."}`` so line N still belongs to image N. Lines go to
``<output>.partial`` as they are made; a run that is interrupted continues after the last whole
line, and the output appears under its own name only when every image has its line.

``transform_sources`` is the same prediction for inputs that each get an answer of their own (SageMaker's
batch transform: one ``.out`` per S3 object, whether it holds one image or a .rec of them): images of
several inputs share a forward pass, and each input is handed back whole, in order.
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from classifier.archives import ArchiveError, read_zip_member
from classifier.errors import ClassifierError
from classifier.files import resumable_lines
from classifier.invocation_contract import json_line
from classifier.lst import read_lst
from classifier.recordio import RecordReader, unpack_record

MAX_IMAGE_BYTES = 50 << 20


@dataclass
class Item:
    name: str
    data: bytes | None
    error: str | None = None


def _zip_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [member for member in archive.infolist()
            if not member.is_dir() and not member.filename.startswith("__MACOSX/")
            and not member.filename.rsplit("/", 1)[-1].startswith(".")]


def count_items(path: Path) -> int:
    """How many images ``path`` (a .zip or a .rec) holds, without decoding them."""
    path = Path(path)
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                return len(_zip_members(archive))
        except (zipfile.BadZipFile, OSError) as error:
            raise ClassifierError(f"{path.name}: not a readable zip archive ({error})") from error
    with RecordReader(path) as reader:
        return sum(1 for _ in reader)


def zip_items(path: Path) -> Iterator[Item]:
    """Members in the archive's order. Nothing is extracted, so ``..`` in a name is only a name."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ClassifierError(f"{Path(path).name}: not a readable zip archive ({error})") from error
    with archive:
        for member in _zip_members(archive):
            try:  # in chunks, at most MAX_IMAGE_BYTES: a member's header may understate its size
                data = read_zip_member(archive, member, MAX_IMAGE_BYTES)
            except ArchiveError as error:
                yield Item(member.filename, None, error.reason)
                continue
            yield Item(member.filename, data)


def record_items(rec: Path, lst: Path | None = None) -> Iterator[Item]:
    """Records in file order, named by the .lst row of their id when a .lst is given, else by the id."""
    names = {entry.index: entry.path for entry in read_lst(lst)} if lst else {}
    with RecordReader(rec) as reader:
        for position, record in enumerate(reader):
            try:
                header, image = unpack_record(record)
            except ClassifierError as error:
                yield Item(str(position), None, str(error))
                continue
            yield Item(names.get(int(header.id), str(int(header.id))), image)


def raw_or_packed(record: bytes) -> bytes:
    """A record's image: im2rec packs an IRHeader before it, other writers frame the image bytes alone."""
    if record.startswith(_IMAGE_SIGNATURES):
        return record
    return unpack_record(record)[1]


_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def rec_items(rec: Path) -> Iterator[Item]:
    """A .rec's images in file order, named by their position (0-based), as SplitType RecordIO reads them."""
    with RecordReader(rec) as reader:
        for position, record in enumerate(reader):
            try:
                yield Item(str(position), raw_or_packed(record))
            except ClassifierError as error:
                yield Item(str(position), None, str(error))


def items_of(path: Path, lst: Path | None = None) -> Iterator[Item]:
    return zip_items(path) if Path(path).suffix.lower() == ".zip" else record_items(path, lst)


def transform(
    predictor,
    items: Iterator[Item],
    output: Path,
    *,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Write one line per item to ``output``; returns (lines, images that failed).

    ``on_progress(done, failed)`` is called after each batch.
    """
    from classifier.batched_prediction import predict_each

    done = failed = 0
    with resumable_lines(output) as (out, skip):
        batch: list[Item] = []

        def flush() -> None:
            nonlocal done, failed
            readable = [item for item in batch if item.data is not None]
            answers = iter(predict_each(predictor, [item.data for item in readable]))
            for item in batch:
                answer = next(answers) if item.data is not None else None
                error = item.error if answer is None else answer.error
                if error:
                    failed += 1
                    out.write(json.dumps({"file": item.name, "error": error}) + "\n")
                else:
                    out.write(json_line(answer.probabilities, file=item.name) + "\n")
            done += len(batch)
            out.flush()
            batch.clear()
            if on_progress:
                on_progress(skip + done, failed)

        for position, item in enumerate(items):
            if position < skip:
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    return skip + done, failed


@dataclass
class Source:
    """One input that gets one answer: its name and its images (one, or a .rec's records, read lazily)."""

    name: str
    items: Iterable[Item]
    answers: list = field(default_factory=list)  # an Answer per item, in order, filled as batches run
    complete: bool = False  # every item is in a batch


def transform_sources(
    predictor,
    sources: Iterable[Source],
    deliver: Callable[[Source], None],
    *,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Predict every image of every source, ``batch_size`` images a pass; ``deliver(source)`` once each source's
    images all have their answers (``source.answers``; an unreadable item's answer carries its error), in
    input order. ``on_progress(sources delivered)`` follows each batch. Returns the sources delivered."""
    from classifier.batched_prediction import Answer, predict_each

    delivered = 0
    waiting: list[Source] = []
    batch: list[tuple[Source, Item]] = []

    def flush() -> None:
        nonlocal delivered
        readable = [item.data for _, item in batch if item.data is not None]
        answers = iter(predict_each(predictor, readable) if readable else [])
        for source, item in batch:
            source.answers.append(next(answers) if item.data is not None else Answer(error=item.error))
        batch.clear()
        while waiting and waiting[0].complete:
            deliver(waiting.pop(0))
            delivered += 1
        if on_progress:
            on_progress(delivered)

    for source in sources:
        waiting.append(source)
        items = iter(source.items)
        item = next(items, None)
        source.complete = item is None
        while item is not None:
            # One item ahead, so a source whose last image is in this batch is handed back with it.
            following = next(items, None)
            batch.append((source, item))
            source.complete = following is None
            if len(batch) >= batch_size:
                flush()
            item = following
    if waiting:
        flush()
    return delivered
