"""Batch transform: every image of a zip or a .rec through a model, one JSON line each, in input order.

Each line is ``{"file": name, "prediction": [...]}`` (spec 0.4); an image that cannot be decoded
gets ``{"file": name, "error": "..."}`` so line N still belongs to image N. Lines go to
``<output>.partial`` as they are made; a run that is interrupted continues after the last whole
line, and the output appears under its own name only when every image has its line.
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
