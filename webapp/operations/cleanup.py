"""What ``manage.py cleanup`` may delete: files nothing will read again, never a model or a dataset.

- a finished training job's ``work/`` (per-epoch checkpoints and optimizer states, kept for resuming);
  its ``model.tar.gz`` stays;
- a finished batch transform's input (its JSON Lines output stays);
- uploaded base models for incremental training that no job refers to;
- temp files of uploads whose web server was killed mid-request, once a few minutes old whatever
  ``--days`` says (webapp/operations/upload_leftovers.py).
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from webapp.core import media
from webapp.operations.upload_leftovers import upload_leftovers
from webapp.registry.models import BatchTransform
from webapp.training.models import TrainingJob


@dataclass
class Candidate:
    path: Path
    why: str

    @property
    def size(self) -> int:
        if self.path.is_file():
            return self.path.stat().st_size
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def remove(self) -> None:
        if self.path.is_dir():
            shutil.rmtree(self.path)
        else:
            self.path.unlink(missing_ok=True)


def candidates(*, finished_before: datetime) -> Iterator[Candidate]:
    root = media.root()
    finished = [TrainingJob.State.SUCCEEDED, TrainingJob.State.FAILED, TrainingJob.State.CANCELLED]
    for job in TrainingJob.objects.filter(state__in=finished, finished__lt=finished_before).order_by("id"):
        work = media.job_work_dir(job)
        if work.exists():
            yield Candidate(work, f"checkpoints of job {job.id} ({job.state} {job.finished:%Y-%m-%d})")
    for transform in BatchTransform.objects.filter(state__in=[BatchTransform.State.SUCCEEDED,
                                                              BatchTransform.State.FAILED],
                                                   finished__lt=finished_before).order_by("id"):
        for name in ("input.zip", "input.rec", "input.lst"):
            path = media.transform_dir(transform) / name
            if path.exists():
                yield Candidate(path, f"input of batch transform {transform.id}")
    referenced = set(TrainingJob.objects.exclude(base_artifact="").values_list("base_artifact", flat=True))
    cutoff = finished_before.timestamp()
    for artifact in sorted(root.glob(media.BASE_MODEL_UPLOADS)):
        if media.relative(artifact) not in referenced and artifact.stat().st_mtime < cutoff:
            yield Candidate(artifact.parent, "an uploaded base model no job uses")
    for leftover in upload_leftovers():
        yield Candidate(leftover, "the temp file of an upload whose web server stopped mid-request")
