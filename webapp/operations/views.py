"""The health page and its JSON twin."""
from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from rest_framework.decorators import api_view

from webapp.operations import health


def health_page(request):
    result = health.report()
    return render(request, "operations/health.html", {"report": result}, status=200 if result["ok"] else 503)


@api_view(["GET"])
def health_api(request):
    """200 when every check passes, 503 with the reasons otherwise."""
    result = health.report()
    return JsonResponse(result, status=200 if result["ok"] else 503)
