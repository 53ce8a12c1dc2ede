"""What a person sees when a page is missing, refused or broken: a styled page in plain words with a
way back; under ``/api/`` the JSON API's own ``{"error": ..., "fields": {}}`` instead of HTML."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template import loader

API_PREFIX = "/api/"


def _api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _unreadable(exception) -> str:
    """Why Django could not read a request, in words a client can act on."""
    if isinstance(exception, TooManyFilesSent):
        return f"too many files in one request: at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}; send them in parts"
    if isinstance(exception, TooManyFieldsSent):
        return f"too many form fields in one request: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}"
    if isinstance(exception, RequestDataTooBig):
        return (f"the form is too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)} MB "
                "outside its files (send large data as a file)")
    if isinstance(exception, MultiPartParserError):
        return "the multipart body could not be read (a bad boundary or part header)"
    if isinstance(exception, DisallowedHost):
        return "this server does not answer to that host name (ALLOWED_HOSTS)"
    return "The request could not be read."


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"error": _unreadable(exception), "fields": {}}, status=400)
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    reason = str(exception or "") or "This page is not open to your account."
    if _api(request):
        return JsonResponse({"error": reason, "fields": {}}, status=403)
    return render(request, "403.html", {"reason": reason}, status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"error": "Not found.", "fields": {}}, status=404)
    return render(request, "404.html", {"path": request.path}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return JsonResponse({"error": "The server failed on this request; the failure is in its log.",
                             "fields": {}}, status=500)
    # No request context: whatever broke the page may break the context processors too.
    return HttpResponse(loader.get_template("500.html").render(), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent from a page too old (or from another site): say so, instead of Django's bare 403."""
    if _api(request):
        return JsonResponse({"error": f"CSRF check failed ({reason}): send the API token instead of a session "
                                      "cookie, or reload the page", "fields": {}}, status=403)
    return render(request, "403.html", {
        "reason": "The form was sent from a page that has expired (or from another site). "
                  "Go back, reload the page, and send it again.",
    }, status=403)
