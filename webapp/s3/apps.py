from django.apps import AppConfig


class S3Config(AppConfig):
    name = "webapp.s3"
    label = "s3"
