from django.urls import path

from webapp.registry import api, invocation_views

urlpatterns = [
    path("models/", api.ModelList.as_view(), name="api-models"),
    path("models/<int:model_id>/", api.ModelDetail.as_view(), name="api-model"),
    path("models/<int:model_id>/artifact/", api.ModelArtifact.as_view(), name="api-model-artifact"),
    path("models/<int:model_id>/predict/", invocation_views.predict, name="api-model-predict"),
    path("transforms/", api.TransformList.as_view(), name="api-transforms"),
    path("transforms/<int:transform_id>/", api.TransformDetail.as_view(), name="api-transform"),
    path("transforms/<int:transform_id>/output/", api.TransformOutput.as_view(), name="api-transform-output"),
    path("transforms/<int:transform_id>/cancel/", api.TransformCancel.as_view(), name="api-transform-cancel"),
]
