"""A version's images back out as a zip of class folders, built once and kept beside its .rec."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from django.conf import settings

from webapp.datasets.models import DatasetVersion
from webapp.datasets.services.versions import version_directory, version_item_paths


def version_images_zip(version: DatasetVersion) -> Path:
    """``<split>/<class>/<name>``, the paths of the version's .lst files under their split's folder, so
    ``im2rec.py train.lst train/`` rebuilds train.rec; a multi-label image appears in the folder of each
    of its classes."""
    target = version_directory(version) / "images.zip"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(".images.zip.partial")
    media = Path(settings.MEDIA_ROOT)
    paths = version_item_paths(version)
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:  # JPEG/PNG do not shrink
        for item in version.items.all().iterator():
            for path in paths[item.index]:
                archive.write(media / item.stored, f"{item.split}/{path}")
    os.replace(partial, target)
    return target
