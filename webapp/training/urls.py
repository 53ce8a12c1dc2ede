from django.urls import path

from webapp.training import views

urlpatterns = [
    path("versions/<int:version_id>/train/", views.train_form, name="train-form"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/compare/", views.job_compare, name="job-compare"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<int:job_id>/resume/", views.job_resume, name="job-resume"),
    path("jobs/<int:job_id>/model/", views.job_model_make, name="job-model-make"),
]
