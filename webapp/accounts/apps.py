from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "webapp.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from webapp.accounts.models import AccessKey
        from webapp.core import access_generation

        # What the S3 front remembers of users and their keys (webapp/core/access_generation.py).
        access_generation.watch(get_user_model())
        access_generation.watch(AccessKey)
