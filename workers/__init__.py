"""Celery workers: the only place where Django rows meet MXNet. Built in issues 3-4."""
