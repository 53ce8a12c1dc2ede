from django.urls import path

from webapp.datasets import views

urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    path("datasets/<int:dataset_id>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:dataset_id>/delete/", views.dataset_delete, name="dataset-delete"),
    path("datasets/<int:dataset_id>/rename/", views.dataset_rename, name="dataset-rename"),
    path("datasets/<int:dataset_id>/classes/", views.class_add, name="class-add"),
    path("datasets/<int:dataset_id>/classes/<int:class_id>/", views.class_edit, name="class-edit"),
    path("datasets/<int:dataset_id>/classes/deleted/<int:deleted_id>/restore/", views.class_restore,
         name="class-restore"),
    path("datasets/<int:dataset_id>/split/", views.split, name="dataset-split"),
    path("datasets/<int:dataset_id>/freeze/", views.freeze, name="dataset-freeze"),
    path("datasets/<int:dataset_id>/images/<int:image_id>/<str:kind>", views.image_file, name="image-file"),
    path("versions/<int:version_id>/", views.version_detail, name="version-detail"),
]
