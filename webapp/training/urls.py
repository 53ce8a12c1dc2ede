from django.urls import path

from webapp.training import views

urlpatterns = [
    path("versions/<int:version_id>/train/", views.train_form, name="train-form"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/compare/", views.job_compare, name="job-compare"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
]
