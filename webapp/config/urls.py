from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from webapp.sagemaker.dispatch import root as aws_root

urlpatterns = [
    # AWS-signed POSTs to / (SageMaker, CloudWatch Logs, STS); anything else there is the datasets page.
    path("", aws_root, name="aws"),
    path("", include("webapp.datasets.urls")),
    path("", include("webapp.accounts.urls")),
    path("", include("webapp.training.urls")),
    path("", include("webapp.registry.urls")),
    path("", include("webapp.operations.urls")),
    path("", include("webapp.tuning.urls")),
    path("api/", include("webapp.datasets.api_urls")),
    path("api/", include("webapp.accounts.api_urls")),
    path("api/", include("webapp.training.api_urls")),
    path("api/", include("webapp.registry.api_urls")),
    path("api/", include("webapp.tuning.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Redoc from drf-spectacular-sidecar, in a page of ours with no font CDN: it renders offline.
    path("api/docs/", SpectacularRedocView.as_view(url_name="schema", template_name="api/docs.html"), name="api-docs"),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on their own (on JSON answers too), whatever the page links.
    path("favicon.ico", login_not_required(RedirectView.as_view(url=static("favicon.ico"))), name="favicon"),
]

handler400 = "webapp.config.error_pages.bad_request"
handler403 = "webapp.config.error_pages.permission_denied"
handler404 = "webapp.config.error_pages.page_not_found"
handler500 = "webapp.config.error_pages.server_error"
