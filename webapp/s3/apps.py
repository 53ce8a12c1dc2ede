from django.apps import AppConfig


class S3Config(AppConfig):
    name = "webapp.s3"
    label = "s3"

    def ready(self) -> None:
        from webapp.core import access_generation
        from webapp.s3.models import Bucket

        access_generation.watch(Bucket)  # who owns a bucket, as the S3 front remembers it
