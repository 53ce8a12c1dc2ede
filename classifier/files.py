"""Files that appear whole or not at all: written under a temporary name beside them, renamed in last.

No MXNet and no Django here: the web process, the workers and the command line all write through it.
The temporary file sits in the target's folder, because a rename is atomic only within one file system.
It is ``<name>.partial``, so a dead worker's leftovers are found by ``*.partial`` (a failed build
cleans its folder that way) and a resumable writer finds its own lines again. A file that two
processes may write at the same moment (an uploaded image, an export) takes ``unique=True``: each
writer then has its own ``.<name>.<random>.partial``.

A failure inside the ``with`` block removes the temporary file and leaves the target as it was,
except for ``resumable_lines``, whose partial file is what the next run continues from.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

PARTIAL_SUFFIX = ".partial"


def partial_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place."""
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


def _unique_partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


class AtomicFile:
    """An open file under its temporary name: ``commit()`` renames it into place, ``abandon()`` removes it.

    For a writer whose file stays open across calls (the RecordIO writers); elsewhere ``atomic_write``
    does the same in a ``with`` block. ``fsync`` makes the bytes durable before the rename, for a file
    whose loss after a power cut would cost real work."""

    def __init__(self, path: Path, mode: str = "wb", *, fsync: bool = False, unique: bool = False, **open_args):
        if "w" not in mode:
            raise ValueError(f"an atomic file is written from its start (mode 'w' or 'wb'), not mode {mode!r}")
        self.path = Path(path)
        self.fsync = fsync
        if unique:
            # "x" instead of mkstemp so the file gets the umask's mode, like every other file written here.
            self.partial = _unique_partial_path(self.path)
            self.file: IO = open(self.partial, mode.replace("w", "x"), **open_args)
        else:
            self.partial = partial_path(self.path)
            self.file = open(self.partial, mode, **open_args)

    def commit(self) -> Path:
        try:
            if self.fsync:
                self.file.flush()
                os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.partial, self.path)
        except BaseException:
            self.abandon()
            raise
        return self.path

    def abandon(self) -> None:
        self.file.close()
        self.partial.unlink(missing_ok=True)


@contextmanager
def atomic_write(path: Path, mode: str = "wb", *, fsync: bool = False, unique: bool = False,
                 **open_args) -> Iterator[IO]:
    """An open file that replaces ``path`` when the block ends cleanly; ``open_args`` go to ``open``
    (``encoding``, ``newline``)."""
    out = AtomicFile(path, mode, fsync=fsync, unique=unique, **open_args)
    try:
        yield out.file
    except BaseException:
        out.abandon()
        raise
    out.commit()


@contextmanager
def atomic_path(path: Path, *, unique: bool = False) -> Iterator[Path]:
    """The temporary name to write ``path`` under, for a writer that wants a file name rather than an
    open file (MXNet's ``nd.save``); renamed to ``path`` when the block ends cleanly."""
    path = Path(path)
    partial = _unique_partial_path(path) if unique else partial_path(path)
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    try:
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes, *, unique: bool = False) -> Path:
    with atomic_write(path, "wb", unique=unique) as out:
        out.write(data)
    return Path(path)


def write_text_atomic(path: Path, text: str, *, unique: bool = False) -> Path:
    with atomic_write(path, "w", unique=unique, encoding="utf-8") as out:
        out.write(text)
    return Path(path)


def write_json_atomic(path: Path, value: Any, *, indent: int | None = 1) -> Path:
    """``value`` as JSON (``json.dumps(value, indent=indent)``), replacing ``path`` whole."""
    return write_text_atomic(path, json.dumps(value, indent=indent))


def _whole_lines(partial: Path) -> int:
    """Whole lines already in ``partial``; a torn last line is cut off."""
    if not partial.exists():
        return 0
    data = partial.read_bytes()
    whole = data.rfind(b"\n") + 1
    if whole < len(data):
        with open(partial, "r+b") as out:
            out.truncate(whole)
    return data.count(b"\n", 0, whole)


@contextmanager
def resumable_lines(path: Path, *, encoding: str = "utf-8") -> Iterator[tuple[IO[str], int]]:
    """``(file, lines already written)``: text lines appended to ``<path>.partial`` after the last whole
    line an earlier, interrupted run left there. On a failure the partial file stays, for the next run
    to continue from; when the block ends cleanly it is synced to disk and renamed to ``path``."""
    partial = partial_path(path)
    done_before = _whole_lines(partial)
    with open(partial, "a", encoding=encoding) as out:
        yield out, done_before
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
