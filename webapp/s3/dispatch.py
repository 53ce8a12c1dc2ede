"""S3 on IC Studio's own host and port: an ASGI layer in front of everything else that takes the HTTP
requests signed (SigV4, header or presigned URL) for service ``s3`` and lets every other request through.

A request is checked from its headers before a byte of its body is read (an unknown key, a wrong
signature, a bucket that is not the caller's: refused at once, with ``Connection: close``), then answered
here (the bucket operations, :mod:`webapp.s3.buckets`) or forwarded to the store
(:mod:`webapp.s3.forwarding`), its body checked as it streams through.

Addressing: path-style ``/<bucket>/<key>`` is what botocore sends to a custom ``AWS_ENDPOINT_URL``
(checked: for ``127.0.0.1`` and for ``localhost``); virtual-hosted ``<bucket>.<host>`` is read too when
``<host>`` is one of ALLOWED_HOSTS, for clients configured with ``addressing_style="virtual"``.
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, quote, unquote

from channels.db import database_sync_to_async
from django.conf import settings

from webapp.accounts import services
from webapp.accounts.selectors import ActiveAccessKey
from webapp.aws import sigv4
from webapp.aws.errors import AwsError, s3_error
from webapp.core import access_generation
from webapp.core.object_store import Store
from webapp.s3 import buckets, chunked, forwarding, sigv2
from webapp.s3.payload import ClientGone, Payload

SMALL_BODY_BYTES = 64 * 1024
_SIGNATURE = re.compile(r"Signature=([0-9a-f]{64})")
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
# Keys by access key id, and buckets by name, as this process last read them (webapp/core/access_generation.py).
_keys: access_generation.Remembered[ActiveAccessKey] = access_generation.Remembered()
_buckets = access_generation.Remembered()


def is_s3(scope) -> bool:
    """Whether this HTTP request is signed for S3 (rightly or not: the signature is checked later)."""
    authorization, query = "", scope.get("query_string", b"").decode("latin-1")
    if sigv2.is_presigned(query):
        return True
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    return sigv4.is_signed(authorization, query) and sigv4.service_of(authorization, query) == "s3"


class S3Front:
    """ASGI middleware: S3 requests answered here, everything else passed to ``app`` unchanged."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and is_s3(scope):
            return await S3Request(scope).handle(receive, send)
        return await self.app(scope, receive, send)


def _bucket_host(hostname: str) -> str | None:
    """The bucket a virtual-hosted name (``<bucket>.<one of ALLOWED_HOSTS>``) names, if it is one."""
    try:
        ipaddress.ip_address(hostname.strip("[]"))
        return None
    except ValueError:
        pass
    for allowed in settings.ALLOWED_HOSTS:
        allowed = allowed.lstrip(".").lower()
        if allowed and allowed != "*" and hostname.endswith("." + allowed):
            return hostname[:-len(allowed) - 1]
    return None


class S3Request:
    def __init__(self, scope):
        self.method = scope["method"]
        self.headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            name = name.decode("latin-1")
            value = value.decode("latin-1")
            self.headers[name] = f"{self.headers[name]},{value}" if name in self.headers else value
        self.raw_path = (scope.get("raw_path") or quote(scope["path"]).encode()).decode("latin-1").split("?", 1)[0]
        self.query_string = scope.get("query_string", b"").decode("latin-1")
        self.params = parse_qsl(self.query_string, keep_blank_values=True)
        self.subresources = {name for name, _ in self.params if name.lower() not in forwarding.PRESIGNING}
        hostname = self.headers.get("host", "").lower()
        hostname = hostname.rsplit(":", 1)[0] if not hostname.endswith("]") else hostname
        virtual = _bucket_host(hostname)
        path = unquote(self.raw_path)
        if virtual:
            self.bucket, self.key = virtual, path[1:] or None
            # The store is addressed path-style.
            self.store_path = "/" + quote(virtual) + (self.raw_path if self.raw_path != "/" else "")
            self.signed_path = self.store_path  # SigV2 signs the bucket in the path either way
        else:
            bucket, _, key = path[1:].partition("/")
            self.bucket, self.key = bucket or None, key or None
            self.store_path = self.signed_path = self.raw_path
        self.has_body = bool(self.headers.get("content-length", "0").strip("0")) or "transfer-encoding" in self.headers

    @property
    def resource(self) -> str:
        return "/" + "/".join(part for part in (self.bucket, self.key) if part)

    @property
    def _creates_bucket(self) -> bool:
        return self.key is None and not self.subresources and self.method == "PUT"

    async def handle(self, receive, send) -> None:
        try:
            caller, signing, bucket = await self._admit()
            payload = Payload(self.headers, signing)
            await self._route(caller.user, bucket, payload, receive, send)
        except AwsError as error:
            await self._answer_error(send, error)
        except ClientGone:
            return

    async def _admit(self):
        """The caller, its chunk signing and the bucket acted on (checked the caller's, with a copy's source):
        from what this process remembers when it may (no trip to the database thread), else read."""
        token = await access_generation.current()
        admitted = self._admit_remembered(token)
        if admitted is not None:
            return admitted
        caller, signing, owned = await self._admit_from_database()
        if not self._sigv2:
            _keys.put(caller.access_key.access_key_id, token,
                      ActiveAccessKey(caller.access_key, caller.user, caller.secret))
        for bucket in owned:
            _buckets.put(bucket.name, token, bucket)
        return caller, signing, owned[0] if owned else None

    @property
    def _sigv2(self) -> bool:
        return sigv2.is_presigned(self.query_string) and not sigv4.is_signed(self.headers.get("authorization", ""),
                                                                          self.query_string)

    @property
    def _checks_bucket(self) -> bool:
        return self.bucket is not None and not self._creates_bucket and bool(Store.from_settings().endpoint_url)

    @property
    def _copy_source_bucket(self) -> str | None:
        copy_source = self.headers.get("x-amz-copy-source")
        return unquote(copy_source).lstrip("/").split("/", 1)[0] if copy_source else None

    def _admit_remembered(self, token):
        """SigV4 checked against the key as remembered under ``token``, the buckets' owners likewise; None
        when anything needed is not remembered, or the key's use is due to be written."""
        if token is None or self._sigv2:
            return None
        known = _keys.get(sigv4.access_key_id(self.headers.get("authorization", ""), self.query_string), token)
        if known is None or services.access_key_use_due(known.access_key):
            return None
        bucket = None
        if self._checks_bucket:
            names = [self.bucket] + ([self._copy_source_bucket] if self._copy_source_bucket else [])
            rows = [_buckets.get(name, token) for name in names]
            if any(row is None or row.owner_id != known.user.pk for row in rows):
                return None  # the database says whose it is, and in which words to refuse
            bucket = rows[0]
        caller = sigv4.verify(method=self.method, path=self.raw_path, query_string=self.query_string,
                              headers=self.headers, body=None, service="s3", known=known)
        return caller, self._chunk_signing(caller), bucket

    @database_sync_to_async
    def _admit_from_database(self):
        """The caller, its chunk signing and the buckets it acts on (that of the request first, then a copy's
        source), in one trip to the database thread: each trip costs the event loop a thread handoff besides
        the queries."""
        caller, signing = self._verify()
        owned = []
        if self._checks_bucket:
            owned.append(buckets.owned(user=caller.user, name=self.bucket))
            if self._copy_source_bucket:
                owned.append(buckets.owned(user=caller.user, name=self._copy_source_bucket))
        return caller, signing, owned

    def _verify(self):
        if self._sigv2:
            return sigv2.verify(method=self.method, path=self.signed_path, query_string=self.query_string,
                                headers=self.headers), None
        caller = sigv4.verify(method=self.method, path=self.raw_path, query_string=self.query_string,
                              headers=self.headers, body=None, service="s3")
        return caller, self._chunk_signing(caller)

    def _chunk_signing(self, caller) -> chunked.ChunkSigning | None:
        if not self.headers.get("x-amz-content-sha256", "").startswith("STREAMING-AWS4-HMAC-SHA256"):
            return None
        authorization = self.headers.get("authorization", "")
        signature, credential = _SIGNATURE.search(authorization), _CREDENTIAL.search(authorization)
        if not (signature and credential):
            raise AwsError(400, "InvalidRequest", "A streaming signed upload needs the Authorization header.")
        return chunked.ChunkSigning(secret=caller.secret, timestamp=self.headers.get("x-amz-date", ""),
                                    scope=credential.group(1).split("/", 1)[1], seed_signature=signature.group(1))

    async def _route(self, user, bucket, payload: Payload, receive, send) -> None:
        """``bucket``: the caller's, as :meth:`_admit` found it (None for ListBuckets and CreateBucket)."""
        store = Store.from_settings()
        if not store.endpoint_url:
            raise AwsError(503, "ServiceUnavailable", "IC Studio has no S3 store configured (S3_ENDPOINT_URL).")
        if self.bucket is None:
            if self.method != "GET":
                raise AwsError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
            return await _answer(send, 200, await buckets.listing(user=user))
        if self._creates_bucket:
            return await self._create_bucket(store, user, payload, receive, send)
        if self.key is None and not self.subresources and self.method == "DELETE":
            return await self._delete_bucket(store, send)
        if self.key is None and self.method == "GET" and "location" in self.subresources:
            return await _answer(send, 200, buckets.location(bucket))
        await forwarding.forward(store, method=self.method, raw_path=self.store_path, params=self.params,
                                 headers=self.headers, payload=payload, receive=receive, send=send)

    async def _create_bucket(self, store, user, payload, receive, send) -> None:
        buckets.check_name(self.bucket)
        region = buckets.location_constraint(await payload.read_all(receive, SMALL_BODY_BYTES))
        await buckets.claim(user=user, name=self.bucket, region=region)
        try:
            status, _, body = await forwarding.exchange(store, "PUT", "/" + quote(self.bucket))
        except BaseException:
            await buckets.release(self.bucket)
            raise
        if status != 200:
            await buckets.release(self.bucket)
            if b"BucketAlreadyOwnedByYou" in body or b"BucketAlreadyExists" in body:
                raise buckets.already_exists()  # one of IC Studio's own buckets, or one made behind its back
            return await _answer(send, status, body)
        await _answer(send, 200, b"", [(b"location", ("/" + quote(self.bucket)).encode())])

    async def _delete_bucket(self, store, send) -> None:
        status, _, body = await forwarding.exchange(store, "DELETE", "/" + quote(self.bucket))
        if status in (200, 204) or b"NoSuchBucket" in body:
            await buckets.release(self.bucket)
            return await _answer(send, 204, b"")
        await _answer(send, status, body)

    async def _answer_error(self, send, error: AwsError) -> None:
        response = s3_error(error, resource=self.resource)
        headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
        # An unread body must not be taken for the next request on this connection.
        await _answer(send, error.status, response.content, headers, close=self.has_body)


async def _answer(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None, *,
                  close: bool = False) -> None:
    headers = list(headers or [])
    if not any(name == b"content-type" for name, _ in headers) and body:
        headers.append((b"content-type", b"application/xml"))
    headers.append((b"content-length", str(len(body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
