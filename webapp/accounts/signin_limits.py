"""Sign-in's rate limit: after ``SIGNIN_MAX_FAILURES`` wrong passwords within ``SIGNIN_WINDOW_SECONDS``, for
one username or from one client address, every sign-in for it is refused (the right password too) until
the oldest of those failures leaves the window. Failures are rows in the database, so every web process
counts the same ones and a test's database starts with none. A refused attempt is not counted: the lock
lifts when the window has passed, however often it is tried meanwhile."""
from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from webapp.accounts.models import SigninFailure


def _address(request) -> str:
    # Behind compose's proxy, uvicorn puts the client's address here from X-Forwarded-For (trusted
    # there only); a spoofed header from anyone else is not read.
    return (getattr(request, "META", {}) or {}).get("REMOTE_ADDR") or "unknown"


def _window() -> timedelta:
    return timedelta(seconds=settings.SIGNIN_WINDOW_SECONDS)


def signin_refusal(request, username: str) -> str | None:
    """Why sign-in is closed for ``username`` from this request's address now, or None if it is open."""
    limit = settings.SIGNIN_MAX_FAILURES
    now = timezone.now()
    recent = SigninFailure.objects.filter(at__gt=now - _window())
    reopens = []
    for who in (Q(username=username), Q(address=_address(request))):
        failures = list(recent.filter(who).order_by("-at").values_list("at", flat=True)[:limit])
        if len(failures) >= limit:
            reopens.append(failures[-1] + _window())  # when the limit-th latest failure leaves the window
    if not reopens:
        return None
    minutes = max(1, math.ceil((max(reopens) - now).total_seconds() / 60))
    return (f"Sign-in is paused after {limit} wrong passwords for this account or from your address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}; staff can set a new password meanwhile.")


def signin_failed(request, username: str) -> None:
    now = timezone.now()
    SigninFailure.objects.filter(at__lte=now - _window()).delete()  # keep the table to the window
    SigninFailure.objects.create(username=username[:150], address=_address(request)[:45], at=now)


def signin_succeeded(username: str) -> None:
    """The account's own failures are forgotten; its address's stay (one's own account is no key to others)."""
    SigninFailure.objects.filter(username=username).delete()
