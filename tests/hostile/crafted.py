"""Hand-made hostile archives: a zip member whose headers understate its size, model.tar.gz files that unpack
to much more than they weigh, or whose layout is right but whose contents are not. Generated on the fly,
a megabyte at a time, so a test holds none of their unpacked bytes."""
from __future__ import annotations

import gzip
import io
import json
import struct
import tarfile
import zipfile
from pathlib import Path

MB = 1 << 20
_ZEROS = bytes(MB)

# The smallest symbol IC Studio reads: data -> fc1 (3 classes) -> softmax.
SYMBOL = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                    {"op": "FullyConnected", "name": "fc1", "attrs": {"num_hidden": "3"}, "inputs": [[0, 0, 0]]},
                    {"op": "SoftmaxOutput", "name": "softmax", "inputs": [[1, 0, 0]]}],
          "arg_nodes": [0], "heads": [[2, 0, 0]]}
SHAPES = [{"name": "data", "shape": [1, 3, 8, 8]}]


def lying_zip(path: Path, *, name: str = "photos/bomb.jpg", inflated_mb: int, claimed: int = 4096) -> Path:
    """One deflated member of ``inflated_mb`` MB of zeros whose local header and central directory both say
    ``claimed`` bytes (the checksum stays the real data's)."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", compresslevel=1) as archive, archive.open(info, "w") as member:
        for _ in range(inflated_mb):
            member.write(_ZEROS)
    with open(path, "r+b") as patched:  # the file is a few hundred KB: patch it in memory
        data = bytearray(patched.read())
        struct.pack_into("<I", data, data.index(b"PK\x03\x04") + 22, claimed)
        struct.pack_into("<I", data, data.index(b"PK\x01\x02") + 24, claimed)
        patched.seek(0)
        patched.write(data)
    return path


class _Zeros(io.RawIOBase):
    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def model_tar(path: Path, *, symbol=SYMBOL, shapes=SHAPES, params_mb: int = 0, extra_files: int = 0) -> Path:
    """A model.tar.gz in SageMaker's layout; its .params is ``params_mb`` MB of zeros (gzip shrinks it ~1000x)."""
    with gzip.open(path, "wb", compresslevel=1) as packed, tarfile.open(fileobj=packed, mode="w") as tar:
        files = {"image-classification-symbol.json": json.dumps(symbol).encode(),
                 "model-shapes.json": json.dumps(shapes).encode(),
                 **{f"extra-{n}.txt": b"x" for n in range(extra_files)}}
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("image-classification-0001.params")
        info.size = params_mb * MB or 16
        tar.addfile(info, io.BufferedReader(_Zeros(info.size), MB))
    return path


def tar_claiming(path: Path, *, claimed: int, sent: int = 4096) -> Path:
    """A model.tar.gz whose one member's header says ``claimed`` bytes, followed by only ``sent`` of them."""
    info = tarfile.TarInfo("image-classification-0001.params")
    info.size = claimed
    with gzip.open(path, "wb") as packed:
        packed.write(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(sent))
    return path
