"""Files of a dataset under MEDIA_ROOT."""
from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings


def dataset_directory(dataset_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "datasets" / str(dataset_id)


def dataset_files_delete(*, dataset_id: int) -> None:
    shutil.rmtree(dataset_directory(dataset_id), ignore_errors=True)
