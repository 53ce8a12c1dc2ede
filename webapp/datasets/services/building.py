"""Building a frozen version's files: runs in a worker."""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from classifier import lst, pack
from webapp.core.leases import BUILDS, Lease, claim, requeue_stale
from webapp.core.notices import Throttle, notify
from webapp.datasets.models import DatasetVersion, Split
from webapp.datasets.services.versions import version_directory, version_files, version_item_paths
from webapp.training.recording import shown

log = logging.getLogger(__name__)


def _entries(version: DatasetVersion, split: str, paths: dict[int, list[str]]) -> list[lst.ListEntry]:
    width = len(version.class_names)
    rows = []
    for item in version.items.filter(split=split):
        if version.multi_label:
            labels = tuple(1.0 if i in item.labels else 0.0 for i in range(width))
        else:
            labels = (float(item.labels[0]),)
        rows.append(lst.ListEntry(item.index, labels, paths[item.index][0]))
    return rows


def version_build(*, version_id: int, worker: str = "worker") -> str:
    """Pack a frozen version's splits, holding it by a lease while it builds (webapp/core/leases.py):
    a duplicate delivery leaves it to the worker building it, and a build whose worker died is resumed by
    another, keeping the splits already packed whole."""
    version = DatasetVersion.objects.get(id=version_id)
    if version.status in (DatasetVersion.Status.READY, DatasetVersion.Status.FAILED):
        return version.status
    token = claim(BUILDS, version_id, worker=worker, error="")
    if not token:
        return "building elsewhere"
    _notify(version_id)
    with Lease(BUILDS, version_id, token):
        try:
            return _build(version, token)
        finally:
            _notify(version_id)  # ready or failed (or taken over: what the row says now)


def _notify(version_id: int, **changes) -> None:
    """The version's row as its owner's pages draw it (webapp/core/notices.py), with ``changes`` over it."""
    version = DatasetVersion.objects.select_related("dataset").filter(id=version_id).first()
    if version is None:
        return
    notify(version.dataset.owner_id, {"type": "version", "version": version.id, "status": version.status,
                                      "progress": version.progress, "error": version.error,
                                      "files": sorted(version_files(version)), **changes})


def _build(version: DatasetVersion, token: str) -> str:
    mine = DatasetVersion.objects.filter(id=version.id, lease=token, status=DatasetVersion.Status.BUILDING)
    directory = version_directory(version)
    directory.mkdir(parents=True, exist_ok=True)
    total = version.items.count()
    paths = version_item_paths(version)
    # The .lst names each image as uploaded; its bytes are read from where they are stored.
    media = Path(settings.MEDIA_ROOT)
    stored = {item.index: media / item.stored for item in version.items.only("index", "stored")}
    done_before = 0
    throttle = Throttle()
    try:
        for split, name in ((Split.TRAIN, "train"), (Split.VALIDATION, "val")):
            entries = _entries(version, split, paths)
            rec, idx = directory / f"{name}.rec", directory / f"{name}.idx"
            if rec.exists() and idx.exists():  # packed whole by a worker that died later: each is renamed in last
                done_before += len(entries)
                continue
            lst_path = lst.write_lst(directory / f"{name}.lst", entries)

            def progress(done: int, _: int, offset=done_before) -> None:
                mine.update(progress=(offset + done) / max(total, 1))
                if throttle.due():
                    _notify(version.id)

            # A dead worker's .partial files are written over from their start.
            report = pack.pack_list(lst_path, media, rec_path=rec, pass_through=True, pack_label=version.multi_label,
                                    progress=False, on_progress=progress, source=lambda entry: stored[entry.index])
            if report.skipped:
                rec.unlink(missing_ok=True)
                idx.unlink(missing_ok=True)
                named = ", ".join(f"{path} ({reason})" for path, reason in report.skipped[:3])
                raise RuntimeError(f"{len(report.skipped)} stored image(s) could not be packed: {named}")
            done_before += len(entries)
    except Exception as error:
        log.exception("building version %s failed", version.id)
        for partial in directory.glob("*.partial"):
            partial.unlink(missing_ok=True)
        mine.update(status=DatasetVersion.Status.FAILED, error=shown(str(error)))
        raise
    mine.update(status=DatasetVersion.Status.READY, progress=1.0)
    return str(directory)


def versions_requeue_stale() -> list[int]:
    """Builds whose worker stopped beating go back to the queue (or fail past WORK_MAX_ATTEMPTS)."""
    return requeue_stale(BUILDS, resuming="building it again, keeping the splits already packed",
                         on_change=lambda row, status, error: _notify(row.id, status=status, error=error))
