"""Reading zip and tar archives without trusting the sizes their headers claim.

A zip member's header can say 4 KB while its deflate stream inflates to a gigabyte, and
``ZipFile.read`` inflates the whole stream in one call before trimming it to the header's size. A
member is therefore read here through ``ZipFile.open`` one chunk at a time and refused as soon as
more than the limit has come out. Only stored and deflated members are read: zipfile inflates a
bzip2 or LZMA chunk in one unbounded call, and the zips people make (file managers, ``zip``,
browsers' folder downloads) use deflate.

A tar member's data is exactly as long as its header says, so a tarball is checked from its
headers alone, one header at a time, before anything is extracted: a member count and a total
unpacked size, refused at the first header past either cap (so a 2 GiB member is never read).
"""
from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Iterator

from classifier.errors import ClassifierError

CHUNK_BYTES = 1 << 20
READABLE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ArchiveError(ClassifierError):
    """A member or an archive refused: its ``reason`` is in plain words, without any path."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def read_zip_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes, read in chunks; at most ``limit`` bytes are ever held, whatever its header says.

    Raises ArchiveError for a member larger than ``limit`` (by its header or by what comes out), an
    unsupported compression, or data that does not match its header (size or checksum).
    """
    if member.file_size > limit:
        raise ArchiveError(f"too large: {_size(member.file_size)}, the limit is {_size(limit)}")
    if member.compress_type not in READABLE_COMPRESSION:
        raise ArchiveError("unsupported compression: make the zip again with the usual (deflate) method")
    chunks, size = [], 0
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:  # zipfile trims at the header's size; this holds should it not
                    raise ArchiveError(f"too large: it inflates past the limit of {_size(limit)}")
                chunks.append(chunk)
    except zipfile.BadZipFile as error:
        # zipfile stops at the header's size, then the checksum of what came out does not match: a
        # member whose header understates its size ends here, after reading no more than that size.
        if "CRC" in str(error):
            raise ArchiveError("damaged in the zip: its data does not match the size and checksum its "
                               "header gives") from None
        raise ArchiveError("damaged in the zip: its data cannot be extracted") from None
    except (zlib.error, OSError, EOFError):  # a corrupt deflate stream, or a zip cut short
        raise ArchiveError("damaged in the zip: its data cannot be extracted") from None
    return b"".join(chunks)


def tar_members(tar: tarfile.TarFile, *, max_total_bytes: int, max_members: int) -> Iterator[tarfile.TarInfo]:
    """The members of ``tar`` one header at a time, refused (ArchiveError) at the first header that
    passes ``max_members`` or takes the unpacked total past ``max_total_bytes``, before its data is read.

    Sparse members are refused: their header's size is not what they unpack to.
    """
    count = total = 0
    while (member := tar.next()) is not None:
        count += 1
        if count > max_members:
            raise ArchiveError(f"it holds more than {max_members} files")
        if member.issparse():
            raise ArchiveError(f"entry {member.name!r} is a sparse file; pack it as a plain file")
        total += max(member.size, 0)
        if total > max_total_bytes:
            raise ArchiveError(f"it unpacks to more than {_size(max_total_bytes)} (at entry {member.name!r}, "
                               f"{_size(total)} so far)")
        yield member
