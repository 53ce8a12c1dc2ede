"""MXNet RecordIO (.rec) and its index (.idx), in pure Python: the web process reads them too.

Framing (spec 6.1): each record is magic ``0xCED7230A``, then ``lrecord = cflag << 29 | length``, the
payload and zero padding to 4 bytes. A payload holding the magic at a 4-aligned offset is split
there into parts (cflag 1 first, 2 middle, 3 last) and the magic is dropped, so a reader never
mistakes payload bytes for a record start. Image records carry an ``IRHeader`` (spec 6.3).
"""
from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

from classifier.errors import RecordIOError
from classifier.files import AtomicFile

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1
_IR_FORMAT = "<IfQQ"
_IR_SIZE = struct.calcsize(_IR_FORMAT)


class IRHeader(NamedTuple):
    flag: int  # 0: one label in ``label``; N > 0: N float32 labels follow the header
    label: float | Sequence[float]
    id: int
    id2: int = 0


def pack_record(header: IRHeader, payload: bytes) -> bytes:
    """An image record's bytes: the header, its labels when there are several, then ``payload``."""
    label = header.label
    if isinstance(label, (int, float)):
        return struct.pack(_IR_FORMAT, 0, float(label), header.id, header.id2) + payload
    labels = [float(x) for x in label]
    return (struct.pack(_IR_FORMAT, len(labels), 0.0, header.id, header.id2)
            + struct.pack(f"<{len(labels)}f", *labels) + payload)


def unpack_record(record: bytes) -> tuple[IRHeader, bytes]:
    if len(record) < _IR_SIZE:
        raise RecordIOError(f"an image record needs a {_IR_SIZE}-byte header, this one has {len(record)} bytes")
    flag, label, id_, id2 = struct.unpack_from(_IR_FORMAT, record)
    body = record[_IR_SIZE:]
    if flag == 0:
        return IRHeader(0, label, id_, id2), body
    if len(body) < 4 * flag:
        raise RecordIOError(f"record {id_} announces {flag} labels but is too short to hold them")
    labels = struct.unpack_from(f"<{flag}f", body)
    return IRHeader(flag, tuple(labels), id_, id2), body[4 * flag:]


def record_labels(header: IRHeader, where: str) -> tuple[float, ...]:
    """The labels of an image record, each a finite number of 0 or more (a class index, or 0/1 per class);
    anything else is refused with a RecordIOError that starts with ``where`` (e.g. "a.rec: record 3")."""
    labels = tuple(header.label) if header.flag else (header.label,)
    for value in labels:
        if not math.isfinite(value) or value < 0:
            raise RecordIOError(f"{where} (id {header.id}): label {value:g} names no class; labels are finite "
                                "numbers of 0 or more")
    return labels


def _frame(payload: bytes) -> bytes:
    """The bytes of one record as dmlc-core's RecordIOWriter writes them."""
    if len(payload) >= 1 << 29:
        raise RecordIOError(f"a record payload must be under 512 MiB, not {len(payload)} bytes")
    parts, start = [], 0
    position = payload.find(_MAGIC_BYTES)
    while position != -1:
        if position % 4 == 0:
            parts.append(payload[start:position])
            start = position + 4
        position = payload.find(_MAGIC_BYTES, position + 1)
    parts.append(payload[start:])
    out = bytearray()
    for number, part in enumerate(parts):
        if len(parts) == 1:
            cflag = 0
        else:
            cflag = 1 if number == 0 else 3 if number == len(parts) - 1 else 2
        out += _MAGIC_BYTES + struct.pack("<I", cflag << 29 | len(part)) + part
        out += b"\0" * (-len(part) % 4)
    return bytes(out)


def _read_one(stream: BinaryIO, name: str) -> bytes | None:
    """The next record's payload, or None at the end of the file."""
    parts: list[bytes] = []
    while True:
        offset = stream.tell()
        head = stream.read(8)
        if not head and not parts:
            return None
        if len(head) < 8:
            raise RecordIOError(f"{name}: truncated record at byte {offset}")
        magic, lrecord = struct.unpack("<II", head)
        if magic != MAGIC:
            raise RecordIOError(f"{name}: no RecordIO magic number at byte {offset}")
        cflag, length = lrecord >> 29, lrecord & _LENGTH_MASK
        part = stream.read(length)
        if len(part) < length:
            raise RecordIOError(f"{name}: truncated record at byte {offset}")
        stream.seek(-length % 4, os.SEEK_CUR)
        if cflag == 0:
            if parts:
                raise RecordIOError(f"{name}: a complete record interrupts a split one at byte {offset}")
            return part
        if (cflag == 1) != (not parts):
            raise RecordIOError(f"{name}: split record out of order at byte {offset}")
        parts.append(part)
        if cflag == 3:
            return _MAGIC_BYTES.join(parts)


class RecordWriter:
    """Sequential .rec writer."""

    def __init__(self, rec_path: Path):
        self._rec = AtomicFile(rec_path)

    def write(self, payload: bytes) -> int:
        """Append one record; returns the byte offset where it starts."""
        offset = self._rec.file.tell()
        self._rec.file.write(_frame(payload))
        return offset

    def close(self) -> None:
        self._rec.commit()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self._rec.abandon()


class IndexedRecordWriter(RecordWriter):
    """.rec plus .idx (``key\\toffset`` lines), as MXIndexedRecordIO writes them."""

    def __init__(self, rec_path: Path, idx_path: Path):
        super().__init__(rec_path)
        self._idx = AtomicFile(idx_path)
        self._keys: set[int] = set()

    def write(self, key: int, payload: bytes) -> int:  # type: ignore[override]
        if key in self._keys:
            raise RecordIOError(f"key {key} written twice to {self._rec.path}")
        self._keys.add(key)
        offset = super().write(payload)
        self._idx.file.write(f"{key}\t{offset}\n".encode())
        return offset

    def close(self) -> None:
        super().close()
        self._idx.commit()

    def __exit__(self, kind, value, traceback) -> None:
        super().__exit__(kind, value, traceback)
        if kind is not None:
            self._idx.abandon()


class RecordReader:
    """Sequential .rec reader: iterating gives each record's payload."""

    def __init__(self, rec_path: Path):
        self.path = Path(rec_path)
        self._file = open(self.path, "rb")

    def __iter__(self) -> Iterator[bytes]:
        self._file.seek(0)
        while (payload := _read_one(self._file, str(self.path))) is not None:
            yield payload

    def offsets(self) -> Iterator[tuple[int, bytes]]:
        """(byte offset, payload) of every record, for building an index."""
        self._file.seek(0)
        while True:
            offset = self._file.tell()
            payload = _read_one(self._file, str(self.path))
            if payload is None:
                return
            yield offset, payload

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_index(idx_path: Path) -> dict[int, int]:
    index: dict[int, int] = {}
    with open(idx_path, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                key, offset = line.split(b"\t")
                index[int(key)] = int(offset)
            except ValueError:
                raise RecordIOError(f"{idx_path}:{number}: an .idx line is 'key<TAB>offset', not {line!r}") from None
    return index


class IndexedRecordReader(RecordReader):
    """Random access by key through the .idx: one seek per read, no scan."""

    def __init__(self, rec_path: Path, idx_path: Path):
        super().__init__(rec_path)
        self._index = read_index(idx_path)
        self.keys = list(self._index)

    def read(self, key: int) -> bytes:
        if key not in self._index:
            raise KeyError(key)
        self._file.seek(self._index[key])
        payload = _read_one(self._file, str(self.path))
        if payload is None:
            raise RecordIOError(f"{self.path}: the index points past the end of the file for key {key}")
        return payload

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[bytes]:
        for key in self.keys:
            yield self.read(key)


def build_index(rec_path: Path, idx_path: Path) -> Path:
    """An .idx for a .rec that came without one, keyed by each image record's header id."""
    out = AtomicFile(idx_path)
    try:
        with RecordReader(rec_path) as reader:
            for offset, payload in reader.offsets():
                header, _ = unpack_record(payload)
                out.file.write(f"{header.id}\t{offset}\n".encode())
    except BaseException:
        out.abandon()
        raise
    out.commit()
    return Path(idx_path)
