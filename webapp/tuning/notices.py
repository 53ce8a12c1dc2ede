"""What a tuning job's pages hear when it changes: a ``tuning`` notice to the owner's pages (webapp/core/notices.py)
carrying the same summary ``GET /api/tuning-jobs/<id>/`` answers, so a page redraws from the notice alone.

The scheduler calls ``tuning_changed`` on every change it makes (status, a trial started or finished, a new best)
and may call it on every epoch of a trial. Changes a page must not miss (a status, a trial's state or objective,
the best) always go out; a notice that only moves a running trial's figures waits its turn (``Throttle``).
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict

from webapp.core.notices import Throttle, notify

log = logging.getLogger(__name__)
_sent: OrderedDict[int, tuple[str, Throttle]] = OrderedDict()  # tuning id -> (what it last said, its throttle)
REMEMBERED = 256  # tuning jobs a process keeps a throttle for; older ones start afresh


def tuning_changed(tuning_id: int) -> None:
    """Tell the owner's open pages that tuning job ``tuning_id`` (its status, a trial, its best) changed.
    Never raises: a notice is a courtesy on top of the rows, which a page fetches when its socket opens."""
    try:
        notice, owner_id = _notice(tuning_id)
    except Exception:
        log.warning("could not summarise tuning job %s for a notice", tuning_id, exc_info=True)
        return
    if notice is not None and _due(tuning_id, notice):
        notify(owner_id, notice)


def _notice(tuning_id: int) -> tuple[dict | None, int | None]:
    from webapp.tuning.models import TuningJob
    from webapp.tuning.selectors import tuning_summary

    tuning = TuningJob.objects.select_related("version__dataset", "best_job__model").filter(id=tuning_id).first()
    if tuning is None:
        return None, None
    return {"type": "tuning", "tuning": tuning.id, **tuning_summary(tuning=tuning)}, tuning.owner_id


def _lasting(notice: dict) -> str:
    """The part of a notice a page must see: everything but a running trial's progress and current figure."""
    trials = [(t["number"], t["state"], t["objective"], t["early_stopped"]) for t in notice.get("trials", [])]
    best = (notice.get("best") or {}).get("job")
    return repr((notice["status"], notice["reason"], trials, best, notice.get("best_model")))


def _due(tuning_id: int, notice: dict) -> bool:
    lasting = _lasting(notice)
    before, throttle = _sent.pop(tuning_id, (None, Throttle()))
    if lasting != before:
        throttle.last = time.monotonic()  # a lasting change goes now, and restarts the progress interval
        due = True
    else:
        due = throttle.due()
    _sent[tuning_id] = (lasting, throttle)
    while len(_sent) > REMEMBERED:
        _sent.popitem(last=False)
    return due
