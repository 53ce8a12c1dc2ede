from django.urls import path

from webapp.registry import invocations, views

urlpatterns = [
    path("models/", views.model_list, name="model-list"),
    path("models/<int:model_id>/", views.model_detail, name="model-detail"),
    path("models/<int:model_id>/delete/", views.model_delete, name="model-delete"),
    path("models/<int:model_id>/default/", views.model_default, name="model-default"),
    path("transforms/<int:transform_id>/", views.transform_detail, name="transform-detail"),
    # SageMaker's hosting contract (sagemaker-runtime's invoke_endpoint, and the container's /ping).
    path("ping", invocations.ping, name="sagemaker-ping"),
    path("invocations", invocations.invocations, name="sagemaker-invocations"),
    path("endpoints/<str:name>/invocations", invocations.invocations, name="sagemaker-endpoint-invocations"),
]
