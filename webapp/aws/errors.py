"""AWS's error shapes, one per protocol, so botocore raises its own ClientError with the code and message.

- JSON 1.0/1.1 (``awsJson``): ``{"__type": code, "message": ...}`` and the code in ``x-amzn-ErrorType``.
- REST-JSON (sagemaker-runtime): botocore reads the code from ``x-amzn-ErrorType`` first, the words from the
  body's ``message`` (or ``Message``).
- S3's REST-XML: ``<Error><Code/><Message/><RequestId/></Error>``, the request id also in ``x-amz-request-id``.
"""
from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

from django.http import HttpResponse


class AwsError(Exception):
    """A refusal as AWS words it: the HTTP status, AWS's error code, and its message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def _request_id() -> str:
    return str(uuid.uuid4())


def json_error(error: AwsError, *, version: str = "1.1") -> HttpResponse:
    response = HttpResponse(json.dumps({"__type": error.code, "message": error.message}), status=error.status,
                            content_type=f"application/x-amz-json-{version}")
    response["x-amzn-ErrorType"] = error.code
    response["x-amzn-RequestId"] = _request_id()
    return response


def rest_json_error(error: AwsError, **extra) -> HttpResponse:
    """``extra`` goes into the body beside ``message`` (e.g. SageMaker's ``OriginalStatusCode``)."""
    response = HttpResponse(json.dumps({"message": error.message, **extra}), status=error.status,
                            content_type="application/json")
    response["x-amzn-ErrorType"] = error.code
    response["x-amzn-RequestId"] = _request_id()
    return response


def s3_error(error: AwsError, *, resource: str | None = None) -> HttpResponse:
    request_id = _request_id()
    parts = [f"<Code>{escape(error.code)}</Code>", f"<Message>{escape(error.message)}</Message>"]
    if resource:
        parts.append(f"<Resource>{escape(resource)}</Resource>")
    parts.append(f"<RequestId>{request_id}</RequestId>")
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>"
    response = HttpResponse(body, status=error.status, content_type="application/xml")
    response["x-amz-request-id"] = request_id
    return response
