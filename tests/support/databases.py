"""Where the tests' stores are: the test Redis, and the test database as a URL a child process reads."""
from __future__ import annotations

import os

TEST_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def database_url(database: dict) -> str:
    """``DATABASE_URL`` for a process of its own on the same database as ``settings.DATABASES[...]``."""
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    user = database.get("USER") or "postgres"
    return f"postgres://{user}@{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}/{database['NAME']}"
