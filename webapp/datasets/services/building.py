"""Building a frozen version's files: runs in a worker."""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from classifier import lst, pack
from webapp.datasets.models import DatasetVersion, Split
from webapp.datasets.services.versions import version_directory, version_item_paths

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


def version_build(*, version_id: int) -> str:
    version = DatasetVersion.objects.get(id=version_id)
    DatasetVersion.objects.filter(id=version_id).update(status=DatasetVersion.Status.BUILDING, progress=0.0, error="")
    directory = version_directory(version)
    directory.mkdir(parents=True, exist_ok=True)
    total = version.items.count()
    paths = version_item_paths(version)
    # The .lst names each image as uploaded; its bytes are read from where they are stored.
    media = Path(settings.MEDIA_ROOT)
    stored = {item.index: media / item.stored for item in version.items.only("index", "stored")}
    done_before = 0
    try:
        for split, name in ((Split.TRAIN, "train"), (Split.VALIDATION, "val")):
            entries = _entries(version, split, paths)
            lst_path = lst.write_lst(directory / f"{name}.lst", entries)

            def progress(done: int, _: int, offset=done_before) -> None:
                DatasetVersion.objects.filter(id=version_id).update(progress=(offset + done) / max(total, 1))

            report = pack.pack_list(lst_path, media, rec_path=directory / f"{name}.rec",
                                    pass_through=True, pack_label=version.multi_label, progress=False,
                                    on_progress=progress, source=lambda entry: stored[entry.index])
            if report.skipped:
                named = ", ".join(f"{path} ({reason})" for path, reason in report.skipped[:3])
                raise RuntimeError(f"{len(report.skipped)} stored image(s) could not be packed: {named}")
            done_before += len(entries)
    except Exception as error:
        log.exception("building version %s failed", version_id)
        DatasetVersion.objects.filter(id=version_id).update(status=DatasetVersion.Status.FAILED, error=str(error))
        raise
    DatasetVersion.objects.filter(id=version_id).update(status=DatasetVersion.Status.READY, progress=1.0)
    return str(directory)
