"""Temp files of uploads whose web server was killed mid-request.

Django streams each uploaded file to ``FILE_UPLOAD_TEMP_DIR`` as ``tmp<random>.upload.<ext>`` and deletes
it when the request ends (ingestion's copies of a .lst or .rec are named alike); a server killed in
between leaves it behind. That folder is IC Studio's own (``<state folder>/uploads-tmp`` unless set), and
such files older than a few minutes are removed when the web server starts and by ``manage.py cleanup``.
The age spares a request still running in another server process; even then only the name goes, since
an open file stays readable on POSIX and Django's close tolerates the missing name.
"""
from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings

MAX_AGE_SECONDS = 10 * 60


def upload_leftovers(*, older_than: float = MAX_AGE_SECONDS) -> list[Path]:
    """Upload temp files not written to for ``older_than`` seconds (only Django's pattern: the folder
    may be set to a shared one such as /tmp)."""
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR or "")
    if not settings.FILE_UPLOAD_TEMP_DIR or not folder.is_dir():
        return []
    cutoff = time.time() - older_than
    found = []
    for path in folder.glob("tmp*.upload*"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                found.append(path)
        except FileNotFoundError:  # its request ended while we looked
            continue
    return found


def upload_leftovers_remove() -> int:
    """Remove the leftovers; returns the bytes freed."""
    freed = 0
    for path in upload_leftovers():
        try:
            size = path.stat().st_size
            path.unlink()
            freed += size
        except FileNotFoundError:
            continue
    return freed
