from django.urls import path

from webapp.operations import views

urlpatterns = [
    path("health/", views.health_page, name="health"),
    path("api/health/", views.health_api, name="api-health"),
]
