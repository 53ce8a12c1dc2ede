from django.urls import path

from webapp.registry import invocation_views, views

urlpatterns = [
    path("models/", views.model_list, name="model-list"),
    path("models/<int:model_id>/", views.model_detail, name="model-detail"),
    path("models/<int:model_id>/delete/", views.model_delete, name="model-delete"),
    path("models/<int:model_id>/default/", views.model_default, name="model-default"),
    path("transforms/<int:transform_id>/", views.transform_detail, name="transform-detail"),
    path("transforms/<int:transform_id>/cancel/", views.transform_cancel, name="transform-cancel"),
    # SageMaker's hosting contract (sagemaker-runtime's invoke_endpoint, and the container's /ping).
    path("ping", invocation_views.ping, name="sagemaker-ping"),
    path("invocations", invocation_views.invocations, name="sagemaker-invocations"),
    path("endpoints/<str:name>/invocations", invocation_views.invocations, name="sagemaker-endpoint-invocations"),
]
