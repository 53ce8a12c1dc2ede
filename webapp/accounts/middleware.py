"""Every page requires a signed-in user; API views answer 401/403 JSON themselves instead of redirecting."""
from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware

API_PREFIXES = ("/api/",)


class PagesRequireLogin(LoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(API_PREFIXES):
            return None  # token-authenticated clients get DRF's JSON answer, not a sign-in page
        return super().process_view(request, view_func, view_args, view_kwargs)
