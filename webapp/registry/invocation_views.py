"""Prediction over HTTP: SageMaker's hosting contract, and the browser's prediction endpoint.

``POST /endpoints/<name>/invocations`` is what boto3's ``sagemaker-runtime`` calls given an
``endpoint_url``, so the model's name is the EndpointName; ``POST /invocations`` answers with the
user's default model, or the one named by ``X-Amzn-SageMaker-Target-Model`` (boto3's TargetModel).
The caller signs with AWS SigV4 using an access key made on the account page (``aws_access_key_id`` and
``aws_secret_access_key``), verified as AWS verifies it (webapp/aws/sigv4.py), so an unchanged SageMaker
client works; ``Authorization: Token <API token>`` is taken too, for curl.

These views are async: a request waiting for a serving worker holds no thread, so many wait at
once and the worker answers them in one batch. Checks that need no model run before the body is
looked at, and none of this imports MXNet.

The SageMaker routes refuse as SageMaker's runtime does, so boto3 raises its own exception classes
with a message: the code in ``x-amzn-ErrorType`` (what botocore's rest-json parser reads first),
``{"message": ...}`` in the body, and a 424 ``ModelError`` carrying ``OriginalStatusCode`` and
``OriginalMessage`` for what the model's container would refuse (a body that is not an image, a type
it cannot take or give). The browser's own prediction endpoint keeps the JSON API's ``{"error": ...}``.
"""
from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from classifier.invocation_contract import InvocationError, check_image, check_pixels, check_request, render
from webapp.aws import sigv4
from webapp.aws.errors import AwsError
from webapp.core import media
from webapp.registry import serving_worker_client
from webapp.registry.models import RegisteredModel

TARGET_MODEL = "X-Amzn-SageMaker-Target-Model"
SIGNING_NAME = "sagemaker"  # what botocore's sagemaker-runtime signs for
log = logging.getLogger(__name__)


class Refused(InvocationError):
    """A refusal with the error code sagemaker-runtime's service model gives it."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(status, message)
        self.code = code


# What the model's container would answer itself: SageMaker passes it on as a ModelError (424).
_FROM_THE_MODEL = {400, 406, 415, 500}
# Statuses SageMaker's service model fixes for a code; other codes keep the refusal's own status.
_CODE_STATUS = {"ModelError": 424, "ModelNotReadyException": 429, "ServiceUnavailable": 503, "InternalFailure": 500}


def _error(error: InvocationError) -> JsonResponse:
    """The browser's shape, as the JSON API's: ``{"error": ...}``."""
    return JsonResponse({"error": error.message}, status=error.status)


def _request_id(response: HttpResponse) -> HttpResponse:
    response["x-amzn-RequestId"] = str(uuid.uuid4())  # boto3's ResponseMetadata.RequestId
    return response


def sagemaker_error(error: InvocationError) -> JsonResponse:
    """SageMaker's shape: the code in ``x-amzn-ErrorType``, the words in ``message``."""
    code = getattr(error, "code", None)
    body = {"message": error.message}
    if code is None and error.status in _FROM_THE_MODEL:
        code = "ModelError"
        side = "server" if error.status >= 500 else "client"
        body = {"message": f'Received {side} error ({error.status}) from the model with message "{error.message}".',
                "OriginalStatusCode": error.status, "OriginalMessage": error.message}
    elif code is None:  # e.g. 413: SageMaker's front end measures the payload before any model sees it
        code = {503: "ServiceUnavailable"}.get(error.status, "ValidationError")
    response = JsonResponse(body, status=_CODE_STATUS.get(code, error.status))
    response["x-amzn-ErrorType"] = code
    return _request_id(response)


def api_token(header: str) -> str | None:
    scheme, _, rest = header.partition(" ")
    if scheme in ("Token", "Bearer") and rest.strip():
        return rest.strip()
    return None


def unauthenticated(key_sent: bool, *, signed: bool = False) -> Refused:
    """The refusal for a caller with no credentials, or (``key_sent``) with an API token or (``signed``) an
    access key that names nobody: the latter in AWS's words, 403."""
    if signed:
        error = sigv4.unknown_key(SIGNING_NAME)
        return Refused(error.status, error.code, error.message)
    if key_sent:
        return Refused(401, "UnrecognizedClientException", "the API token is not valid; see your account page for yours")
    return Refused(401, "MissingAuthenticationTokenException",
                   "authentication required: sign with AWS SigV4 using an access key from your account page "
                   "(boto3 does), or send 'Authorization: Token <your API token>'")


async def _token_user(request: HttpRequest):
    """The caller of a SigV4-signed request (the signature verified over the body), or of an API token."""
    from webapp.accounts.services import user_for_api_key

    header = request.headers.get("Authorization", "")
    if sigv4.is_signed(header, request.META.get("QUERY_STRING", "")):
        try:
            return (await sync_to_async(sigv4.verify_django)(request, service=SIGNING_NAME)).user
        except AwsError as error:
            raise Refused(error.status, error.code, error.message) from None
    key = api_token(header)
    if key is None:
        raise unauthenticated(False)
    user = await sync_to_async(user_for_api_key)(key)
    if user is None:
        raise unauthenticated(True)
    return user


async def _model(user, *, name: str | None = None, model_id: int | None = None) -> RegisteredModel:
    owned = RegisteredModel.objects.filter(owner=user)
    if model_id is not None:
        model = await owned.filter(id=model_id).afirst()
        missing = f"no model {model_id}"
    elif name:
        model = await owned.filter(name=name).afirst()
        # AWS's words first (clients match on them), then ours.
        missing = (f"Endpoint {name} of account {user.username} not found: no model or endpoint named {name!r} "
                   "among your models")
    else:
        model = await owned.filter(is_default=True).afirst()
        missing = "no default model: name one with /endpoints/<name>/invocations or X-Amzn-SageMaker-Target-Model"
    if model is None:
        raise Refused(404, "ValidationError", missing)
    if model.state == RegisteredModel.State.VALIDATING:
        raise Refused(409, "ModelNotReadyException",
                      f"model {model.name} is still being checked by a worker; try again in a few seconds")
    if model.state != RegisteredModel.State.READY:
        raise Refused(409, "ValidationError",
                      f"model {model.name} is {model.state}" + (f": {model.reason}" if model.reason else ""))
    return model


def _length(request: HttpRequest) -> int | None:
    try:
        return int(request.headers.get("Content-Length", ""))
    except ValueError:
        return None


def _checked_body(request: HttpRequest) -> bytes:
    """The body, once it is known to be an image of a size and pixel count a model may be given."""
    body = request.body
    check_image(body, settings.INVOCATION_MAX_BYTES)
    check_pixels(body, settings.INVOCATION_MAX_PIXELS)
    return body


@dataclass(frozen=True)
class Target:
    """What answers an invocation: a model's file, the name the caller knows it by, and the production
    variant (a model named directly is its own endpoint's "AllTraffic")."""

    artifact: str  # absolute and resolved: the serving workers' cache key
    name: str
    owner_id: int
    variant: str = "AllTraffic"

    @classmethod
    def of_model(cls, model: RegisteredModel) -> Target:
        return cls(str(media.artifact_path(model).resolve()), f"model {model.name}", model.owner_id)


async def _endpoint_target(user, name: str) -> Target | None:
    """The variant of the user's SageMaker endpoint ``name`` that answers this request (by the variants'
    weights), or None when no endpoint has that name. While an update warms its new config the old one answers."""
    from webapp.sagemaker.models import Endpoint

    endpoint = await Endpoint.objects.filter(owner=user, name__iexact=name).afirst()
    if endpoint is None:
        return None
    if endpoint.status in (Endpoint.Status.CREATING, Endpoint.Status.UPDATING):
        from webapp.sagemaker.endpoint_states import refresh

        endpoint = await sync_to_async(refresh)(endpoint)
    if endpoint.status not in (Endpoint.Status.IN_SERVICE, Endpoint.Status.UPDATING) or not endpoint.variants:
        raise Refused(400, "ValidationError", f"Endpoint {endpoint.name} of account {user.username} is not in service "
                                              f"(it is {endpoint.status})" + (
                                                  f": {endpoint.failure_reason}" if endpoint.failure_reason else ""))
    from webapp.sagemaker.endpoint_states import served_path

    weights = [max(float(variant.get("InitialVariantWeight", 1.0)), 0.0) for variant in endpoint.variants]
    variant = random.choices(endpoint.variants, weights=weights if sum(weights) else None)[0]
    return Target(served_path(variant), f"endpoint {endpoint.name}", user.id, variant["VariantName"])


async def _answer(target: Target, body: bytes) -> serving_worker_client.Reply:
    try:
        # By owner: the serving workers take turns between users, so one user's backlog waits for itself.
        reply = await serving_worker_client.predict(target.artifact, body, owner=str(target.owner_id))
    except serving_worker_client.ServingUnavailable as error:
        raise Refused(503, "ServiceUnavailable", str(error)) from None
    if reply.error:
        # A worker's reason may quote the artifact's path: the caller knows the model by its name.
        reason = reply.error.replace(target.artifact, target.name).replace(str(media.root().resolve()), "<media>")
        raise InvocationError(400 if reply.kind == "image" else 500, reason)
    return reply


def _timing(response: HttpResponse, reply: serving_worker_client.Reply, started: float) -> HttpResponse:
    # Beside SageMaker's answer, never in it: what the batch was and what it cost.
    response["X-IC-Batch-Size"] = str(reply.batch_size)
    response["X-IC-Model-Ms"] = f"{reply.model_ms:.2f}"
    response["X-IC-Latency-Ms"] = f"{(time.perf_counter() - started) * 1000:.2f}"
    return response


@login_not_required
@csrf_exempt
async def invocations(request: HttpRequest, name: str | None = None) -> HttpResponse:
    started = time.perf_counter()
    try:
        if request.method != "POST":
            raise Refused(405, "ValidationError", "POST one image to this endpoint")
        kind = check_request(request.headers.get("Content-Type"), request.headers.get("Accept"), _length(request),
                             settings.INVOCATION_MAX_BYTES)
        user = await _token_user(request)
        # A SageMaker endpoint of that name first, else the model the name (or the target header) names.
        target = await _endpoint_target(user, name) if name else None
        if target is None:
            target = Target.of_model(await _model(user, name=name or request.headers.get(TARGET_MODEL)))
        reply = await _answer(target, _checked_body(request))
    except InvocationError as error:
        return sagemaker_error(error)
    except Exception:
        log.exception("invocation failed")
        return sagemaker_error(Refused(500, "InternalFailure", "an internal failure occurred; it is in the server's log"))
    payload, kind = render(reply.probabilities, kind)
    response = _timing(HttpResponse(payload, content_type=kind), reply, started)
    response["x-Amzn-Invoked-Production-Variant"] = target.variant  # boto3's InvokedProductionVariant
    return _request_id(response)


@login_not_required
@csrf_exempt
async def ping(request: HttpRequest) -> JsonResponse:
    """Health for load balancers, as SageMaker's container gives it: open to all, and it names nothing."""
    if request.method not in ("GET", "HEAD"):
        return sagemaker_error(Refused(405, "ValidationError", "GET /ping"))
    alive = await serving_worker_client.workers()
    response = JsonResponse({"status": "ok" if alive else "no serving worker", "serving_workers": len(alive),
                             **({} if alive else {"message": "no serving worker is running; start one with "
                                                             "`python -m workers.serving_worker`"})},
                            status=200 if alive else 503)
    if not alive:
        response["x-amzn-ErrorType"] = "ServiceUnavailable"
    return _request_id(response)


@csrf_exempt
async def predict(request: HttpRequest, model_id: int) -> HttpResponse:
    """The browser's prediction: top-k classes with their names, and the time each step took."""
    started = time.perf_counter()
    try:
        if request.method != "POST":
            raise InvocationError(405, "POST one image to this endpoint")
        if request.headers.get("Authorization"):
            user = await _token_user(request)
        else:
            user = await request.auser()
            if not user.is_authenticated:
                raise InvocationError(401, "sign in, or send 'Authorization: Token <your API token>'")
            refused = await sync_to_async(CsrfViewMiddleware(lambda r: None).process_view)(request, None, (), {})
            if refused is not None:
                raise InvocationError(403, "CSRF check failed: reload the page")
        check_request(request.headers.get("Content-Type"), None, _length(request), settings.INVOCATION_MAX_BYTES)
        model = await _model(user, model_id=model_id)
        reply = await _answer(Target.of_model(model), _checked_body(request))
    except InvocationError as error:
        return _error(error)
    try:
        k = max(1, min(int(request.GET.get("k", 5)), model.num_classes))
    except ValueError:
        k = 5
    names = model.class_names
    order = sorted(range(len(reply.probabilities)), key=lambda i: -reply.probabilities[i])[:k]
    top = [{"index": i, "label": names[i] if i < len(names) else str(i), "probability": reply.probabilities[i]}
           for i in order]
    return _timing(JsonResponse({
        "model": model.id, "top": top, "probabilities": reply.probabilities, "model_ms": round(reply.model_ms, 2),
        "batch_size": reply.batch_size, "server_ms": round((time.perf_counter() - started) * 1000, 2),
    }), reply, started)
