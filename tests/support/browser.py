"""Helpers for the headless-Chromium tests (the ``page`` fixture is in tests/webapp/conftest.py)."""
from __future__ import annotations

import shutil

from tests.support import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "test-artifacts" / "screenshots"


def sign_in(page, server: str, username: str = "alice", password: str = "wonderland-42") -> None:
    """Sign in through the form (alice's password is the one the ``alice`` fixture gives her)."""
    page.goto(f"{server}/signin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def shot(page, name: str) -> None:
    """A full-page screenshot in test-artifacts/screenshots/ (README shows some of them)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
