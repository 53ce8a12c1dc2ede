"""``POST /`` for AWS-signed requests: SageMaker's and CloudWatch Logs' JSON 1.1 operations (by
``X-Amz-Target``) and STS's query protocol, told apart by the service the SigV4 credential scope names.
Everything else at ``/`` (the home page, its form) goes to the datasets page as before."""
from __future__ import annotations

import json
import logging
import uuid

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from webapp.aws import sigv4
from webapp.aws.errors import AwsError, json_error

log = logging.getLogger(__name__)
TARGET_PREFIXES = {"sagemaker": "SageMaker", "logs": "Logs_20140328"}
SERVICES = (*TARGET_PREFIXES, "sts")


def _operations(service: str) -> dict:
    if service == "sagemaker":
        from webapp.sagemaker import hosted_models, hosting, training_jobs, transform_jobs, tuning_jobs

        return {**training_jobs.OPERATIONS, **hosted_models.OPERATIONS, **hosting.OPERATIONS,
                **transform_jobs.OPERATIONS, **tuning_jobs.OPERATIONS}
    from webapp.sagemaker.logs import OPERATIONS

    return OPERATIONS


def refusal(service: str | None, error: AwsError) -> HttpResponse:
    """``error`` in the shape the signed-for service's clients parse."""
    if service == "sts":
        from webapp.sagemaker.sts import sts_error

        return sts_error(error)
    return json_error(error)


def aws_signed(request) -> bool:
    return request.method == "POST" and sigv4.is_signed(request.headers.get("Authorization", ""),
                                                        request.META.get("QUERY_STRING", ""))


def _json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise AwsError(400, "SerializationException", "Start of structure or map found where not expected.") from None
    if not isinstance(body, dict):
        raise AwsError(400, "SerializationException", "Start of structure or map found where not expected.")
    return body


def dispatch(request) -> HttpResponse:
    service = sigv4.service_of(request.headers.get("Authorization", ""), request.META.get("QUERY_STRING", ""))
    try:
        if service not in SERVICES:
            raise AwsError(400, "UnknownOperationException", f"IC Studio answers SageMaker, CloudWatch Logs and STS "
                                                              f"at this address, not {service or 'this service'}")
        caller = sigv4.verify_django(request, service=service)
        if service == "sts":
            from webapp.sagemaker.sts import sts_answer

            return sts_answer(caller, request.body)
        prefix, _, operation = request.headers.get("X-Amz-Target", "").partition(".")
        handler = _operations(service).get(operation) if prefix == TARGET_PREFIXES[service] else None
        if handler is None:
            raise AwsError(400, "UnknownOperationException", f"Unknown operation {operation or '(none)'}"
                                                              if prefix == TARGET_PREFIXES[service] else
                                                              "No X-Amz-Target of this service was sent")
        answer = handler(caller, _json_body(request))
    except AwsError as error:
        return refusal(service, error)
    except (KeyError, TypeError, ValueError) as error:  # a member of the wrong type, or a missing one
        log.info("malformed %s request", service, exc_info=True)
        return refusal(service, AwsError(400, "ValidationException", f"The request is not valid: {error}"))
    response = HttpResponse(json.dumps(answer), content_type="application/x-amz-json-1.1")
    response["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


@login_not_required
@csrf_exempt
def root(request) -> HttpResponse:
    """``/``: AWS's operations for signed POSTs, the datasets page (signed-in users only) otherwise."""
    if aws_signed(request):
        return dispatch(request)
    from webapp.datasets.views import dataset_list

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return csrf_protect(dataset_list)(request)
