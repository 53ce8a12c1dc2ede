"""A user's S3 request, passed on to the store as it came (method, path, query, S3 headers) but signed with
the store's own keys, its body streamed up as it is checked and the store's answer streamed back untouched.

Dropped on the way: the user's signature (``authorization``, ``x-amz-date``, ``x-amz-content-sha256``,
``x-amz-security-token``, a presigned URL's ``X-Amz-*`` query), hop-by-hop headers, and aws-chunked framing
(``content-encoding: aws-chunked``, ``x-amz-decoded-content-length``, ``x-amz-trailer``): the store gets
plain bytes, checked here (chunk signatures, trailing checksum) before their last piece is sent. The
store's request is signed ``UNSIGNED-PAYLOAD``: the bytes were checked here already.
"""
from __future__ import annotations

import asyncio
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from webapp.aws.errors import AwsError
from webapp.core.object_store import Store
from webapp.s3 import upstream
from webapp.s3.payload import ClientGone, Payload

USER_SIGNING = frozenset({"authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "host",
                          "x-amz-decoded-content-length", "x-amz-trailer"})
PRESIGNING = frozenset({"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
                        "x-amz-signedheaders", "x-amz-signature", "x-amz-security-token",
                        "awsaccesskeyid", "signature", "expires"})  # the last three: SigV2's
# Headers botocore leaves unsigned; anything else sent to the store is signed.
UNSIGNED_HEADERS = frozenset({"user-agent", "expect", "x-amzn-trace-id"})
RESPONSE_DROPPED = upstream.HOP_BY_HOP - {"content-length"} | {"server", "date"}


class _StoreAuth(S3SigV4Auth):
    def payload(self, request):
        return "UNSIGNED-PAYLOAD"


def store_unavailable(error: Exception) -> AwsError:
    return AwsError(503, "ServiceUnavailable", f"The S3 store behind IC Studio is not answering ({error}).")


def _credentials(store: Store) -> Credentials:
    if store.access_key_id:
        return Credentials(store.access_key_id, store.secret_access_key)
    import boto3  # the store's own credential chain (AWS S3 with an instance role)

    return boto3.session.Session().get_credentials().get_frozen_credentials()


def store_query(params: list[tuple[str, str]]) -> str:
    """The query without a presigned URL's signature, encoded as AWS canonicalises it (what is sent is
    exactly what is signed)."""
    return "&".join(f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}" if value or name else ""
                    for name, value in params if name.lower() not in PRESIGNING)


def signed_request(store: Store, method: str, raw_path: str, params: list[tuple[str, str]],
                   headers: dict[str, str], *, chunked_body: bool) -> tuple[str, list[tuple[str, str]]]:
    """The request target and headers for the store, signed with its keys."""
    path = quote(unquote(raw_path), safe="/~")  # AWS's canonical encoding: what is signed is what is sent
    query = store_query(params)
    endpoint = store.endpoint_url.rstrip("/")
    prefix = endpoint.split("/", 3)[3] if endpoint.count("/") >= 3 else ""
    target = (f"/{prefix}" if prefix else "") + path + (f"?{query}" if query else "")
    forwarded = {"host": urlsplit(endpoint).netloc.rsplit("@", 1)[-1]}
    for name, value in headers.items():
        if name in USER_SIGNING or name in upstream.HOP_BY_HOP:
            continue
        if name == "content-encoding" and chunked_body:
            value = ", ".join(part for part in (p.strip() for p in value.split(",")) if part != "aws-chunked")
            if not value:
                continue
        forwarded[name] = value
    request = AWSRequest(method=method, url=endpoint + path + (f"?{query}" if query else ""), headers=forwarded)
    _StoreAuth(_credentials(store), "s3", store.region).add_auth(request)
    return target, [(name, value) for name, value in request.headers.items()]


async def forward(store: Store, *, method: str, raw_path: str, params: list[tuple[str, str]],
                  headers: dict[str, str], payload: Payload | None, receive, send) -> None:
    """Ask the store and answer the client with what it says; AwsError before anything is sent back."""
    target, store_headers = signed_request(store, method, raw_path, params, headers,
                                           chunked_body=payload is not None and payload.decoder is not None)
    has_body = payload is not None and (payload.length or method in ("PUT", "POST"))
    if not has_body:
        connection, response = await _bodiless(store, method, target, store_headers)
        return await _relay(response, connection, receive, send)
    connection = upstream.Connection(store.endpoint_url)
    try:
        await connection.open()
    except upstream.StoreUnreachable as error:
        raise store_unavailable(error) from None
    try:
        # The head goes with the first piece of the body: a body refused before then reaches the store not at all.
        connection.send_head(method, target, store_headers, payload.length if has_body else None)
        taking = True
        async for piece in payload.pieces(receive):
            if taking:
                taking = await connection.send(piece)
        if taking:
            await connection.send(b"")  # the head of a request with an empty body
        response = await connection.response(method)
    except upstream.StoreUnreachable as error:
        connection.abort()
        raise store_unavailable(error) from None
    except BaseException:
        connection.abort()  # a body that failed its check, or a client gone: the store keeps nothing
        raise
    await _relay(response, connection, receive, send)


async def _bodiless(store: Store, method: str, target: str, store_headers: list[tuple[str, str]]):
    """Send a request without a body on a kept-alive connection, or a new one if the kept one has gone."""
    for reuse in (True, False):
        connection = upstream.Connection(store.endpoint_url)
        try:
            await connection.open(reuse=reuse)
        except upstream.StoreUnreachable as error:
            raise store_unavailable(error) from None
        connection.send_head(method, target, store_headers, 0 if method in ("PUT", "POST") else None)
        try:
            if not await connection.send(b""):
                raise upstream.StoreUnreachable("the store closed the connection")
            return connection, await connection.response(method)
        except upstream.StoreUnreachable as error:
            connection.abort()
            if not connection.reused:
                raise store_unavailable(error) from None
        except BaseException:
            connection.abort()
            raise
    raise AssertionError("unreachable")


async def _relay(response: upstream.Response, connection: upstream.Connection, receive, send) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
               if name.lower() not in RESPONSE_DROPPED]
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        async for data in response.body():
            if gone.done():
                connection.abort()  # the client left: stop reading the object from the store
                return
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except upstream.StoreUnreachable:
        connection.abort()  # headers already sent: all the client can be told is that the body was cut
        raise ClientGone() from None
    finally:
        gone.cancel()
        response.close()


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def exchange(store: Store, method: str, raw_path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A small bodiless request of IC Studio's own to the store (CreateBucket, DeleteBucket), answered whole."""
    target, store_headers = signed_request(store, method, raw_path, [], {}, chunked_body=False)
    connection = upstream.Connection(store.endpoint_url)
    try:
        await connection.open()
        connection.send_head(method, target, store_headers, 0 if method in ("PUT", "POST") else None)
        await connection.send(b"")
        response = await connection.response(method)
        body = b"".join([data async for data in response.body()])
    except upstream.StoreUnreachable as error:
        raise store_unavailable(error) from None
    finally:
        connection.abort()
    return response.status, response.headers, body
