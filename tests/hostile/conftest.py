"""Fixtures for attacks on a real IC Studio web process (see webprocess.py): two users whose rows the server
process can see, and the server itself, started on the test database and stopped when the test ends."""
from __future__ import annotations

import pytest

from tests.hostile.webprocess import PASSWORD, start_web


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def users(django_user_model, transactional_db):
    """Two accounts whose rows the server process can see (committed)."""
    return {name: django_user_model.objects.create_user(username=name, password=PASSWORD) for name in ("mallory", "alice")}


@pytest.fixture
def web(settings, media, users, tmp_path):
    """The real web process; stopped (and its log shown on failure) when the test ends."""
    server = start_web(settings, tmp_path)
    yield server
    server.stop()
