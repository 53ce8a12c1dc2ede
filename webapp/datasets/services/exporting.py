"""A version's images back out as a zip of class folders, built once and kept beside its .rec."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from classifier.files import atomic_write
from webapp.core import media
from webapp.datasets.models import DatasetVersion
from webapp.datasets.services.versions import version_directory, version_item_paths


_UNSAFE_PART = re.compile(r'[\x00-\x1f\x7f:*?"<>|]')


def zip_member_name(*parts: str) -> str:
    """A member name that unpacks inside the folder it is unpacked in, with any tool on any system:
    relative, ``/``-separated, no ``..``, ``.`` or empty parts, no drive letters or control characters.
    The paths given are made safe already (``version_item_paths``); this holds even if they were not."""
    cleaned = []
    for part in "/".join(parts).replace("\\", "/").split("/"):
        part = _UNSAFE_PART.sub("_", part).strip()
        if part.strip("."):
            cleaned.append(part)
        elif part:  # "." or "..": kept as a name, so the path keeps its depth and still matches the .lst
            cleaned.append("_" * len(part))
    return "/".join(cleaned) or "_"


def version_images_zip(version: DatasetVersion) -> Path:
    """``<split>/<class>/<name>``, the paths of the version's .lst files under their split's folder, so
    ``im2rec.py train.lst train/`` rebuilds train.rec; a multi-label image appears in the folder of each
    of its classes."""
    target = version_directory(version) / "images.zip"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    paths = version_item_paths(version)
    # Two downloads may build it at once: each under its own temporary name, the last rename wins.
    with atomic_write(target, unique=True) as out, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:  # JPEG/PNG do not shrink
        for item in version.items.all().iterator():
            for path in paths[item.index]:
                archive.write(media.absolute(item.stored), zip_member_name(item.split, path))
    return target
