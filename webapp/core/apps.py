from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "webapp.core"
    label = "core"

    def ready(self) -> None:
        # Every Django process (web, worker, manage.py, tests) makes the project's Celery app the current
        # one, so that the apps' ``@shared_task``s send through its broker and routes.
        import webapp.config.celery  # noqa: F401
