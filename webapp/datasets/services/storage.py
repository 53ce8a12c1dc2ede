"""Files under MEDIA_ROOT: a dataset's, and uploads written to disk."""
from __future__ import annotations

import shutil
from pathlib import Path

from webapp.core import media


def dataset_directory(dataset_id: int) -> Path:
    return media.dataset_dir(dataset_id)


def dataset_files_delete(*, dataset_id: int) -> None:
    shutil.rmtree(dataset_directory(dataset_id), ignore_errors=True)


def upload_save(upload, target: Path) -> Path:
    """Write an uploaded file to ``target`` chunk by chunk, so a large one never sits in memory."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return target
