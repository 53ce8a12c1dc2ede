from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

urlpatterns = [
    path("", include("webapp.datasets.urls")),
    path("", include("webapp.accounts.urls")),
    path("", include("webapp.training.urls")),
    path("", include("webapp.registry.urls")),
    path("", include("webapp.operations.urls")),
    path("api/", include("webapp.datasets.api_urls")),
    path("api/", include("webapp.accounts.api_urls")),
    path("api/", include("webapp.training.api_urls")),
    path("api/", include("webapp.registry.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
