from django.urls import path

from webapp.training import api

urlpatterns = [
    path("jobs/", api.JobList.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>/", api.JobDetail.as_view(), name="api-job"),
    path("jobs/<int:job_id>/cancel/", api.JobCancel.as_view(), name="api-job-cancel"),
    path("jobs/<int:job_id>/resume/", api.JobResume.as_view(), name="api-job-resume"),
    path("jobs/<int:job_id>/model/", api.JobModelMake.as_view(), name="api-job-model"),
    path("jobs/<int:job_id>/metrics/", api.JobMetrics.as_view(), name="api-job-metrics"),
    path("jobs/<int:job_id>/evaluation/", api.JobEvaluation.as_view(), name="api-job-evaluation"),
]
