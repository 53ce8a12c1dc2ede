"""Waiting for something a real process does (a worker, a server, Redis) without sleeping longer than needed."""
from __future__ import annotations

import time


def wait_until(predicate, what: str = "the condition", timeout: float = 120, step: float = 0.2):
    """``predicate()``'s first true value, asked every ``step`` seconds; an AssertionError naming ``what`` once
    ``timeout`` seconds pass without one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")
