"""Notices to a user's open pages: every page of a signed-in user listens on ``/ws/notices/``
(webapp/training/consumers.py NoticeConsumer, the group ``user.<id>``) and redraws what a notice names: a
job's state, a version's build, a batch transform's progress.

``notify`` is synchronous so workers (Celery tasks) and services call it as they are; it never raises: a
notice is a courtesy on top of the rows, and a page that missed one (the channel layer or Redis away, a
page that was reconnecting) fetches the object once when its socket opens again.
"""
from __future__ import annotations

import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 0.5  # seconds between progress notices of one object: a big build must not flood Redis


def notify(user_id: int, notice: dict) -> bool:
    """Send ``notice`` (a JSON-able dict with a ``type``) to the pages of user ``user_id``; False, logged,
    when it could not be sent."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        async_to_sync(layer.group_send)(f"user.{user_id}", {"type": "user.notice", "message": notice})
    except Exception:
        log.warning("could not send a %s notice to user %s", notice.get("type"), user_id, exc_info=True)
        return False
    return True


class Throttle:
    """Whether a progress notice of one object is due: at most one per ``interval`` seconds. State changes
    are never throttled (their senders do not ask)."""

    def __init__(self, interval: float = PROGRESS_INTERVAL):
        self.interval = interval
        self.last = float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True
