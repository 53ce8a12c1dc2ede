"""The Celery worker processes' entry point (``celery -A workers worker``): the project's Celery app
(configured in webapp/config/celery.py, where the web process sends through it too) and this worker's
presence beat."""
from __future__ import annotations

from webapp.config.celery import app
from workers import presence  # noqa: F401  (connects the worker's presence beat to its start)

__all__ = ["app"]
