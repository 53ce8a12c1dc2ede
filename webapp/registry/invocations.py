"""Prediction over HTTP: SageMaker's hosting contract, and the browser's prediction endpoint.

``POST /endpoints/<name>/invocations`` is what boto3's ``sagemaker-runtime`` calls given an
``endpoint_url``, so the model's name is the EndpointName; ``POST /invocations`` answers with the
user's default model, or the one named by ``X-Amzn-SageMaker-Target-Model`` (boto3's TargetModel).
The caller is known by the API token, sent as ``Authorization: Token <key>`` or as the access key
of an AWS SigV4 signature (``aws_access_key_id=<key>``), so an unchanged SageMaker client works.

These views are async: a request waiting for a serving worker holds no thread, so many wait at
once and the worker answers them in one batch. Checks that need no model run before the body is
looked at, and none of this imports MXNet.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authtoken.models import Token

from classifier.invocation import InvocationError, check_image, check_request, render
from webapp.registry import serving_client
from webapp.registry.models import Model

TARGET_MODEL = "X-Amzn-SageMaker-Target-Model"
_SIGV4 = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/")


def _error(error: InvocationError) -> JsonResponse:
    return JsonResponse({"error": error.message}, status=error.status)


def _api_key(header: str) -> str | None:
    scheme, _, rest = header.partition(" ")
    if scheme in ("Token", "Bearer") and rest.strip():
        return rest.strip()
    match = _SIGV4.match(header)
    return match.group(1) if match else None


async def _token_user(request: HttpRequest):
    header = request.headers.get("Authorization", "")
    key = _api_key(header)
    if key is None:
        raise InvocationError(401, "authentication required: send 'Authorization: Token <your API token>', "
                                   "or sign with AWS SigV4 using your API token as the access key")
    token = await Token.objects.select_related("user").filter(key=key).afirst()
    if token is None or not token.user.is_active:
        raise InvocationError(401, "the API token is not valid; see your account page for yours")
    return token.user


async def _model(user, *, name: str | None = None, model_id: int | None = None) -> Model:
    owned = Model.objects.filter(owner=user)
    if model_id is not None:
        model = await owned.filter(id=model_id).afirst()
        missing = f"no model {model_id}"
    elif name:
        model = await owned.filter(name=name).afirst()
        missing = f"no model or endpoint named {name!r}"
    else:
        model = await owned.filter(is_default=True).afirst()
        missing = "no default model: name one with /endpoints/<name>/invocations or X-Amzn-SageMaker-Target-Model"
    if model is None:
        raise InvocationError(404, missing)
    if model.state != Model.State.READY:
        raise InvocationError(409, f"model {model.name} is {model.state}" + (f": {model.reason}" if model.reason else ""))
    return model


def _length(request: HttpRequest) -> int | None:
    try:
        return int(request.headers.get("Content-Length", ""))
    except ValueError:
        return None


async def _answer(model: Model, body: bytes) -> serving_client.Reply:
    artifact = str(Path(settings.MEDIA_ROOT, model.artifact).resolve())
    try:
        reply = await serving_client.predict(artifact, body)
    except serving_client.ServingUnavailable as error:
        raise InvocationError(503, str(error)) from None
    if reply.error:
        raise InvocationError(400 if reply.kind == "image" else 500, reply.error)
    return reply


def _timing(response: HttpResponse, reply: serving_client.Reply, started: float) -> HttpResponse:
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
            raise InvocationError(405, "POST one image to this endpoint")
        kind = check_request(request.headers.get("Content-Type"), request.headers.get("Accept"), _length(request),
                             settings.INVOCATION_MAX_BYTES)
        user = await _token_user(request)
        model = await _model(user, name=name or request.headers.get(TARGET_MODEL))
        body = request.body
        check_image(body, settings.INVOCATION_MAX_BYTES)
        reply = await _answer(model, body)
    except InvocationError as error:
        return _error(error)
    payload, kind = render(reply.probabilities, kind)
    return _timing(HttpResponse(payload, content_type=kind), reply, started)


@login_not_required
@csrf_exempt
async def ping(request: HttpRequest) -> JsonResponse:
    """Health for load balancers, as SageMaker's container gives it: open to all, and it names nothing."""
    if request.method not in ("GET", "HEAD"):
        return _error(InvocationError(405, "GET /ping"))
    alive = await serving_client.workers()
    return JsonResponse({"status": "ok" if alive else "no serving worker", "serving_workers": len(alive)},
                        status=200 if alive else 503)


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
        body = request.body
        check_image(body, settings.INVOCATION_MAX_BYTES)
        reply = await _answer(model, body)
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
