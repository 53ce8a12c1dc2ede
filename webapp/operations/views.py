"""The health page and its JSON twin: for staff, since they show the machine's queues, workers and disks."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAdminUser

from webapp.operations import health

STAFF_ONLY = ("The health page is for staff accounts. The first account made on a new installation is one; "
              "`python manage.py createsuperuser` makes another.")


class IsStaff(IsAdminUser):
    message = STAFF_ONLY


def health_page(request):
    if not request.user.is_staff:
        raise PermissionDenied(STAFF_ONLY)
    result = health.report()
    return render(request, "operations/health.html", {"report": result}, status=200 if result["ok"] else 503)


@extend_schema(responses={200: {"type": "object"}, 503: {"type": "object"}})
@api_view(["GET"])
@permission_classes([IsStaff])
def health_api(request):
    """200 when every check passes, 503 with the reasons otherwise. Staff only."""
    result = health.report()
    return JsonResponse(result, status=200 if result["ok"] else 503)
