"""The ``.lst`` list format (spec 2.2): ``index \\t label [\\t label ...] \\t relative/path``.

Reading checks every row and names the file and 1-based line of the first bad one. Writing
follows im2rec.py (labels as ``%f``). Listing a folder-per-class tree and a stratified split with a
fixed seed are here too, so the packer, the CLI and the web app make the same lists.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from classifier.errors import ListFileError
from classifier.files import atomic_write

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")


@dataclass(frozen=True)
class ListEntry:
    index: int
    labels: tuple[float, ...]
    path: str

    @property
    def label(self) -> int:
        """The class of a single-label row."""
        return int(self.labels[0])


def _parse_row(fields: list[str], *, num_classes: int | None, multi_label: bool) -> ListEntry:
    if len(fields) < 3:
        raise ValueError(f"a row needs an index, at least one label and a path (tab-separated); found {len(fields)} field(s)")
    index_text, *label_texts, path = fields
    try:
        index = int(index_text)
    except ValueError:
        raise ValueError(f"the index must be an integer, not {index_text!r}") from None
    try:
        labels = tuple(float(text) for text in label_texts)
    except ValueError:
        bad = next(text for text in label_texts if not _is_number(text))
        raise ValueError(f"labels must be numbers, not {bad!r}") from None
    # NaN, infinity or a negative number names no class (and int(nan) would fail far from this line).
    if bad := next((text for text, value in zip(label_texts, labels) if not math.isfinite(value) or value < 0), None):
        raise ValueError(f"labels must be finite numbers of 0 or more (a class index, or 0/1 per class), not {bad!r}")
    if not path.strip():
        raise ValueError("the image path is empty")
    if multi_label:
        if num_classes is not None and len(labels) != num_classes:
            raise ValueError(f"a multi-label row needs {num_classes} label columns (one per class), found {len(labels)}")
        if any(value not in (0.0, 1.0) for value in labels):
            raise ValueError(f"multi-label columns must be 0 or 1, not {', '.join(label_texts)}")
    elif num_classes is not None:
        for value in labels:
            if not value.is_integer() or not 0 <= value < num_classes:
                raise ValueError(f"label {value:g} is outside 0..{num_classes - 1}")
    return ListEntry(index, labels, path)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_lst(
    path: Path, *, num_classes: int | None = None, root: Path | None = None, multi_label: bool = False
) -> list[ListEntry]:
    """Every row of ``path``; with ``root``, each image must exist under it."""
    entries: list[ListEntry] = []
    seen: dict[int, int] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ListFileError(path, 1, f"not a UTF-8 text file ({error.reason})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = _parse_row(line.rstrip("\r").split("\t"), num_classes=num_classes, multi_label=multi_label)
        except ValueError as error:
            raise ListFileError(path, number, str(error)) from None
        if entry.index in seen:
            raise ListFileError(path, number, f"index {entry.index} is already used on line {seen[entry.index]}")
        if root is not None and not (Path(root) / entry.path).is_file():
            raise ListFileError(path, number, f"image {entry.path!r} not found under {root}")
        seen[entry.index] = number
        entries.append(entry)
    return entries


def format_row(entry: ListEntry) -> str:
    return "\t".join([str(entry.index), *(f"{value:f}" for value in entry.labels), entry.path]) + "\n"


def write_lst(path: Path, entries: Iterable[ListEntry]) -> Path:
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as out:
        for entry in entries:
            out.write(format_row(entry))
    return path


def list_image_folder(
    root: Path, *, recursive: bool = True, exts: Sequence[str] = IMAGE_EXTENSIONS
) -> tuple[list[ListEntry], list[str]]:
    """Rows for every image under ``root``, as ``im2rec.py --list`` makes them.

    With ``recursive``, each sub-folder holding images is a class, numbered in sorted order, and
    its path relative to ``root`` is the class name; without it, the images directly in ``root``
    all get label 0.
    """
    root = Path(root)
    wanted = {ext.lower() for ext in exts}
    folders = sorted({p.parent for p in root.rglob("*") if p.suffix.lower() in wanted and p.is_file()}) if recursive \
        else [root]
    entries, class_names = [], []
    for folder in folders:
        images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in wanted)
        if not images:
            continue
        label = len(class_names)
        class_names.append(folder.relative_to(root).as_posix() if recursive else ".")
        for image in images:
            entries.append(ListEntry(len(entries), (float(label),), image.relative_to(root).as_posix()))
    return entries, class_names


def split_stratified(entries: Sequence[ListEntry], train_ratio: float, seed: int = 100, *,
                     min_validation: int = 0) -> tuple[list[ListEntry], list[ListEntry]]:
    """Shuffle each class with ``seed`` and put ``train_ratio`` of it (rounded) in train; the same
    seed gives the same split. Multi-label rows are grouped by their whole label vector.

    A class of more than ``min_validation`` rows keeps at least that many in validation, so a small
    class is still measured (rounding alone puts both images of a two-image class in train)."""
    if not 0 < train_ratio <= 1:
        raise ValueError(f"train_ratio must be in (0, 1], not {train_ratio}")
    rng = random.Random(seed)
    by_class: dict[tuple[float, ...], list[ListEntry]] = defaultdict(list)
    for entry in entries:
        by_class[entry.labels].append(entry)
    train, validation = [], []
    for labels in sorted(by_class):
        group = list(by_class[labels])
        rng.shuffle(group)
        cut = round(len(group) * train_ratio)
        if len(group) > min_validation:
            cut = min(cut, len(group) - min_validation)
        train += group[:cut]
        validation += group[cut:]
    rng.shuffle(train)
    rng.shuffle(validation)
    return train, validation
