"""The JSON API of tuning jobs."""
from django.urls import path

from webapp.tuning import api

urlpatterns = [
    path("tuning-jobs/", api.TuningJobList.as_view(), name="api-tuning-jobs"),
    path("tuning-jobs/<int:tuning_id>/", api.TuningJobDetail.as_view(), name="api-tuning-job"),
    path("tuning-jobs/<int:tuning_id>/stop/", api.TuningJobStop.as_view(), name="api-tuning-job-stop"),
]
