"""Process entry points: the Celery workers (``celery -A workers``) and the serving worker
(``python -m workers.serving_worker``). The work they do lives in the apps (each app's tasks.py and runners)."""
from workers.celery import app as celery_app

__all__ = ["celery_app"]
