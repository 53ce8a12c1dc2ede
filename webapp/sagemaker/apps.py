from django.apps import AppConfig


class SageMakerConfig(AppConfig):
    name = "webapp.sagemaker"
    label = "sagemaker"
