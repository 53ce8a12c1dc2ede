"""Fixtures for attacks on a real IC Studio web process (see webprocess.py): two users whose rows the server
process can see, and the server itself, started on the test database and stopped when the test ends."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.webprocess import PASSWORD, WebProcess, database_url, start_web_process


def start_web(settings, tmp_path: Path, **env_overrides) -> WebProcess:
    """The web process on this test's database and media folder (``env_overrides`` become its settings)."""
    return start_web_process(database_url(settings.DATABASES["default"]), Path(settings.MEDIA_ROOT), tmp_path,
                             **env_overrides)


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
