"""The tuning pages: a version's Tune form, a tuning job's live page, the list of them."""
from django.urls import path

from webapp.tuning import views

urlpatterns = [
    path("versions/<int:version_id>/tune/", views.tune_form, name="tune-form"),
    path("tuning/", views.tuning_list, name="tuning-list"),
    path("tuning/<int:tuning_id>/", views.tuning_detail, name="tuning-detail"),
    path("tuning/<int:tuning_id>/stop/", views.tuning_stop, name="tuning-stop"),
]
