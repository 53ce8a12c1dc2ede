from django.urls import path

from webapp.datasets import api

urlpatterns = [
    path("datasets/", api.DatasetList.as_view(), name="api-datasets"),
    path("datasets/<int:dataset_id>/", api.DatasetDetail.as_view(), name="api-dataset"),
    path("datasets/<int:dataset_id>/classes/", api.ClassList.as_view(), name="api-classes"),
    path("datasets/<int:dataset_id>/classes/<int:class_id>/", api.ClassDetail.as_view(), name="api-class"),
    path("datasets/<int:dataset_id>/classes/<int:class_id>/merge/", api.ClassMerge.as_view(), name="api-class-merge"),
    path("datasets/<int:dataset_id>/classes/deleted/<int:deleted_id>/restore/", api.ClassRestore.as_view(),
         name="api-class-restore"),
    path("datasets/<int:dataset_id>/uploads/", api.Uploads.as_view(), name="api-uploads"),
    path("datasets/<int:dataset_id>/images/", api.ImageList.as_view(), name="api-images"),
    path("datasets/<int:dataset_id>/labels/", api.Labels.as_view(), name="api-labels"),
    path("datasets/<int:dataset_id>/split/", api.SplitView.as_view(), name="api-split"),
    path("datasets/<int:dataset_id>/versions/", api.VersionList.as_view(), name="api-versions"),
    path("versions/<int:version_id>/", api.VersionDetail.as_view(), name="api-version"),
    path("versions/<int:version_id>/files/<str:name>", api.VersionFile.as_view(), name="api-version-file"),
]
