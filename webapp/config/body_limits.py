"""Who is asking, and how much the route may take, decided before a request body is read.

Django's ASGIHandler reads and spools the whole body before any middleware or view runs, so a limit or a
login check there comes after the disk is filled. This ASGI middleware sits in front of it: it finds the
caller from the headers alone (session cookie, ``Authorization: Token``, or the access key id of an AWS
SigV4 signature, whose signature the view checks once the body is in), refuses an anonymous body with 401
(an unknown access key with AWS's 403) and a declared length over the route's limit with 413 without
reading a byte, and counts a chunked (or longer than declared) body as it arrives, cutting it off with 413
at the limit. Refusals come in each route family's shape: SageMaker's for the SageMaker routes, the JSON
API's under ``/api/``, a sign-in redirect or a plain page elsewhere.
"""
from __future__ import annotations

import asyncio
import re
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.http.cookie import parse_cookie

from webapp.aws import sigv4
from webapp.registry import invocation_views

# Forms an anonymous caller must be able to send (signing in, signing up, asking for a token): small.
ANONYMOUS_PATHS = frozenset({"/signin/", "/signup/", "/api/auth/token/", "/admin/login/"})
ANONYMOUS_MAX_BYTES = 64 * 1024
# A refused body up to this size is read and dropped after the answer, for clients that read the answer only
# once they have sent everything; within this many seconds.
DRAIN_MAX_BYTES = 16 << 20
DRAIN_SECONDS = 10
SAGEMAKER = re.compile(r"^/(?:invocations|ping|endpoints/[^/]+/invocations)$")
PREDICT = re.compile(r"^/api/models/\d+/predict/$")
# Routes that take files: image uploads, model imports, batch transforms and base models for training.
UPLOADS = re.compile(r"^/(?:api/datasets/\d+/uploads/|api/models/|models/|models/\d+/|api/transforms/|api/jobs/"
                     r"|versions/\d+/train/)$")


def _limit(path: str) -> int:
    if path in ANONYMOUS_PATHS:
        return ANONYMOUS_MAX_BYTES
    if SAGEMAKER.match(path) or PREDICT.match(path):
        return settings.INVOCATION_MAX_BYTES
    if UPLOADS.match(path):
        return settings.UPLOAD_MAX_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.3g} MB" if size >= 1 << 20 else f"{size} bytes"


def _too_large(path: str, size: int | None, limit: int) -> HttpResponse:
    told = f"the body is {size} bytes" if size is not None else "the body is larger than that"
    message = f"{told}; this route takes at most {limit} bytes ({_megabytes(limit)})"
    if SAGEMAKER.match(path):
        return invocation_views.sagemaker_error(invocation_views.InvocationError(413, message))
    if path.startswith("/api/"):
        return JsonResponse({"error": message, "fields": {}}, status=413)
    return HttpResponse(f"Too large: {message}.\n", status=413, content_type="text/plain; charset=utf-8")


def _unauthenticated(path: str, query: str, header_sent: str | None, authorization: str = "") -> HttpResponse:
    if path == "/" and header_sent == "sigv4":  # SageMaker's, CloudWatch Logs' and STS's operations at POST /
        from webapp.sagemaker.dispatch import refusal

        service = sigv4.service_of(authorization, query)
        return refusal(service, sigv4.unknown_key(service or ""))
    if SAGEMAKER.match(path):
        return invocation_views.sagemaker_error(
            invocation_views.unauthenticated(bool(header_sent), signed=header_sent == "sigv4"))
    if path.startswith("/api/"):
        words = ("the API token is not valid; see your account page for yours" if header_sent else
                 "authentication required: sign in, or send 'Authorization: Token <your API token>'")
        response = JsonResponse({"error": words, "fields": {}}, status=401)
        response["WWW-Authenticate"] = "Token"
        return response
    return redirect_to_login(path + (f"?{query}" if query else ""))


@database_sync_to_async
def _session_user(session_key: str):
    engine = import_module(settings.SESSION_ENGINE)
    user = auth.get_user(SimpleNamespace(session=engine.SessionStore(session_key)))
    return user if user.is_authenticated else None


@database_sync_to_async
def _key_user(key: str):
    from webapp.accounts.services import user_for_api_key

    return user_for_api_key(key)


@database_sync_to_async
def _access_key_user(access_key_id: str):
    from webapp.accounts.selectors import active_access_key

    found = active_access_key(access_key_id)
    return found.user if found else None


async def _caller(headers: dict[bytes, bytes], query: str):
    """The user the headers name, and which credential was sent ("sigv4", "token" or None: a wrong one is
    not a session)."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if sigv4.is_signed(authorization, query):
        access_key_id = sigv4.access_key_id(authorization, query)
        return (await _access_key_user(access_key_id) if access_key_id else None), "sigv4"
    key = invocation_views.api_token(authorization)
    if key is not None:
        return await _key_user(key), "token"
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    session_key = cookies.get(settings.SESSION_COOKIE_NAME)
    return (await _session_user(session_key) if session_key else None), None


async def _send(send, response: HttpResponse, receive=None, unread: int | None = None) -> None:
    """Answer at once; then, if the rest of the body is small (``unread`` bytes, None if not told), read and
    drop it before closing: a client that reads only once it has sent everything (urllib, requests) would
    otherwise meet a reset connection instead of the answer. A larger body is left unread and the
    connection closed (a client that sent ``Expect: 100-continue`` never sends it at all)."""
    # Connection: close, or the server would read the rest of the refused body to find the next request.
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    headers += [(b"content-length", str(len(response.content)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    drain = receive is not None and (unread or DRAIN_MAX_BYTES) <= DRAIN_MAX_BYTES
    await send({"type": "http.response.body", "body": response.content, "more_body": drain})
    if drain:
        try:
            await asyncio.wait_for(_drop(receive, DRAIN_MAX_BYTES), DRAIN_SECONDS)
        except asyncio.TimeoutError:
            pass
        await send({"type": "http.response.body", "body": b""})


async def _drop(receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return
        budget -= len(message.get("body", b""))


class BodyLimits:
    """ASGI middleware for the HTTP app; everything else (WebSockets, lifespan) passes untouched."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])  # ASGI servers give names lower-cased
        try:
            length = int(headers[b"content-length"]) if b"content-length" in headers else None
        except ValueError:
            length = None  # the server itself refuses these; count what comes
        if not length and b"transfer-encoding" not in headers:
            return await self.app(scope, receive, send)  # no body to guard
        path = scope["path"]
        if path not in ANONYMOUS_PATHS:
            query = scope.get("query_string", b"").decode("latin-1")
            user, key_sent = await _caller(headers, query)
            if user is None:
                return await _send(send, _unauthenticated(path, query, key_sent,
                                                          headers.get(b"authorization", b"").decode("latin-1")),
                                   receive, length)
        limit = _limit(path)
        if length is not None and length > limit:
            return await _send(send, _too_large(path, length, limit), receive, length)
        await self.app(scope, _Counted(receive, send, limit, path), send)


class _Counted:
    """``receive`` that counts body bytes and, past the limit, answers 413 and tells the app the client left."""

    def __init__(self, receive, send, limit: int, path: str):
        self.receive, self.send, self.limit, self.path = receive, send, limit, path
        self.seen = 0
        self.cut = False

    async def __call__(self):
        if self.cut:
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.cut = True
                await _send(self.send, _too_large(self.path, None, self.limit), self.receive, DRAIN_MAX_BYTES)
                return {"type": "http.disconnect"}  # Django stops reading and answers nothing more
        return message
