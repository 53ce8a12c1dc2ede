"""Every API error is ``{"error": "...", "fields": {"name": ["..."]}}`` with its 4xx status, as JSON whatever
the client's ``Accept`` says (a browser's ``text/html`` would otherwise get DRF's HTML page for a 404). A
service's ``ServiceError`` is answered here, once, as a 400: API views just call services."""
from __future__ import annotations

from django.http import Http404
from rest_framework import exceptions, parsers
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler

from webapp.core.errors import ServiceError


class JSONParser(parsers.JSONParser):
    """DRF's, with a body nested past Python's recursion limit (``[[[[...``) refused as a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _flatten(value)]
    return [str(detail)]


def json_error_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, ServiceError):  # a service refused the write: a 400 naming the inputs at fault
        exc = exceptions.ValidationError({name or "non_field_errors": [message]
                                          for name, message in exc.by_field().items()})
    response = exception_handler(exc, context)
    if response is None:
        return None  # Django's own handlers answer (JSON under /api/: webapp.config.error_pages)
    request = context.get("request")
    if request is not None:
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
    detail = response.data
    if isinstance(exc, exceptions.ValidationError) and isinstance(detail, dict):
        fields = {name: _flatten(value) for name, value in detail.items() if name != "non_field_errors"}
        general = _flatten(detail.get("non_field_errors", []))
        message = "; ".join(general) or "invalid input: " + ", ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        response.data = {"error": message, "fields": fields}
    else:
        response.data = {"error": " ".join(_flatten(detail.get("detail", detail) if isinstance(detail, dict) else detail)),
                         "fields": {}}
    return response
