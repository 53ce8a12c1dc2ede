"""AWS Signature Version 4, verified as AWS verifies it, for requests signed with a user's access key.

The signature is recomputed with botocore's own signer over the canonical request, built from what was
received: the method, the path as sent (still percent-encoded), the query, only the headers the client
says it signed, and the payload hash. For S3 the payload hash is the ``x-amz-content-sha256`` header's
(``UNSIGNED-PAYLOAD`` and ``STREAMING-*`` taken as given, a digest checked against the body when there is
one); for every other service it is the digest of the body received, so a changed body fails. The
request's own ``X-Amz-Date`` is the timestamp signed, and it must be within 15 minutes of this server's
clock. Both forms are read: the ``Authorization`` header, and the presigned URL's ``X-Amz-*`` query.

The region in the credential scope is not checked against ours: the signature covers it either way, and
a client configured for another region still reaches this one site.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping
from urllib.parse import parse_qsl

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from webapp.aws.errors import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600  # AWS's longest X-Amz-Expires
CONTENT_SHA256 = "x-amz-content-sha256"
_CREDENTIAL = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/")
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")

MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")
UNKNOWN_TOKEN = "The security token included in the request is invalid."
UNKNOWN_S3_KEY = "The AWS Access Key Id you provided does not exist in our records."
# Query-protocol services (IAM, STS, EC2) name an unknown key so; JSON and REST-JSON ones UnrecognizedClient.
_QUERY_PROTOCOL = frozenset({"iam", "sts", "ec2", "sns", "sqs", "cloudformation", "rds"})


@dataclass(frozen=True)
class Caller:
    """Who signed: the user, the access key row, and the scope they signed for; and the secret, which an
    aws-chunked upload's chunk signatures are checked with (never shown: repr=False)."""

    user: object
    access_key: object
    region: str
    service: str
    secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class _Signature:
    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # as signed: YYYYMMDDTHHMMSSZ
    presigned: bool
    expires: int | None


def _is_s3(service: str) -> bool:
    return service == "s3"


def unknown_key(service: str) -> AwsError:
    if _is_s3(service):
        return AwsError(403, "InvalidAccessKeyId", UNKNOWN_S3_KEY)
    if service in _QUERY_PROTOCOL:
        return AwsError(403, "InvalidClientTokenId", UNKNOWN_TOKEN)
    return AwsError(403, "UnrecognizedClientException", UNKNOWN_TOKEN)


def _mismatch() -> AwsError:
    return AwsError(403, "SignatureDoesNotMatch", MISMATCH)


def _malformed(service: str, presigned: bool, message: str) -> AwsError:
    if _is_s3(service):
        return AwsError(400, "AuthorizationQueryParametersError" if presigned else "AuthorizationHeaderMalformed",
                        message)
    return AwsError(400, "IncompleteSignatureException", message)


def is_signed(authorization: str, query_string: str) -> bool:
    """Whether the request claims a SigV4 signature (header or presigned URL), right or wrong."""
    return authorization.startswith(ALGORITHM) or "X-Amz-Credential=" in query_string


def access_key_id(authorization: str, query_string: str) -> str | None:
    """The access key id a SigV4 request names, read from the headers or query alone (no body needed)."""
    match = _CREDENTIAL.match(authorization)
    if match:
        return match.group(1)
    if "X-Amz-Credential=" in query_string:
        credential = dict(parse_qsl(query_string, keep_blank_values=True)).get("X-Amz-Credential", "")
        return credential.split("/", 1)[0] or None
    return None


def service_of(authorization: str, query_string: str) -> str | None:
    """The service named in the credential scope, for answering in that service's words."""
    if authorization.startswith(ALGORITHM):
        credential = re.search(r"Credential=([^,\s]+)", authorization)
        scope = credential.group(1).split("/") if credential else []
    else:
        scope = dict(parse_qsl(query_string, keep_blank_values=True)).get("X-Amz-Credential", "").split("/")
    return scope[3] if len(scope) == 5 else None


def _parse(authorization: str, query: list[tuple[str, str]], headers: Mapping[str, str],
           service_hint: str) -> _Signature:
    params = dict(query)
    presigned = not authorization.startswith(ALGORITHM)
    if presigned:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise _malformed(service_hint, True, f"X-Amz-Algorithm only supports \"{ALGORITHM}\"")
        fields = {"Credential": params.get("X-Amz-Credential", ""),
                  "SignedHeaders": params.get("X-Amz-SignedHeaders", ""),
                  "Signature": params.get("X-Amz-Signature", "")}
        timestamp = params.get("X-Amz-Date", "")
        try:
            expires = int(params.get("X-Amz-Expires", ""))
        except ValueError:
            raise _malformed(service_hint, True, "X-Amz-Expires should be a number") from None
        if not 0 < expires <= MAX_PRESIGNED_SECONDS:
            raise _malformed(service_hint, True, "X-Amz-Expires must be between 1 and 604800 seconds")
    else:
        fields = dict(part.strip().split("=", 1) for part in authorization[len(ALGORITHM):].split(",")
                      if "=" in part)
        timestamp, expires = headers.get("x-amz-date", ""), None
        if not timestamp and headers.get("date"):
            try:
                timestamp = parsedate_to_datetime(headers["date"]).astimezone(timezone.utc).strftime(TIMESTAMP)
            except (TypeError, ValueError):
                timestamp = ""
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise _malformed(service_hint, presigned, f"Authorization header requires '{missing[0]}' parameter. "
                                                  f"Authorization={ALGORITHM} ...")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _malformed(service_hint, presigned, "Credential should be <access key>/<date>/<region>/<service>/"
                                                  f"aws4_request, not '{fields['Credential']}'")
    if not timestamp:
        raise _malformed(service_hint, presigned, "Authorization header requires existence of either a "
                                                  "'X-Amz-Date' or a 'Date' header.")
    try:
        datetime.strptime(timestamp, TIMESTAMP)
    except ValueError:
        raise _malformed(service_hint, presigned, f"X-Amz-Date must be in the ISO8601 Long Format "
                                                  f"\"yyyyMMdd'T'HHmmss'Z'\", not '{timestamp}'") from None
    signed_headers = tuple(fields["SignedHeaders"].lower().split(";"))
    return _Signature(access_key_id=scope[0], scope_date=scope[1], region=scope[2], service=scope[3],
                      signed_headers=signed_headers, signature=fields["Signature"].strip(), timestamp=timestamp,
                      presigned=presigned, expires=expires)


def _check_time(signed: _Signature, now: datetime) -> None:
    at = datetime.strptime(signed.timestamp, TIMESTAMP).replace(tzinfo=timezone.utc)
    s3 = _is_s3(signed.service)
    stamp = now.strftime(TIMESTAMP)
    if signed.presigned and now > at + timedelta(seconds=signed.expires):
        raise (AwsError(403, "AccessDenied", "Request has expired") if s3 else
               AwsError(403, "InvalidSignatureException", f"Signature expired: {signed.timestamp} is now earlier "
                        f"than {(now - timedelta(seconds=signed.expires)).strftime(TIMESTAMP)}"))
    if at < now - MAX_SKEW and not signed.presigned:
        raise (AwsError(403, "RequestTimeTooSkewed", "The difference between the request time and the current "
                        "time is too large.") if s3 else
               AwsError(403, "InvalidSignatureException", f"Signature expired: {signed.timestamp} is now earlier "
                        f"than {(now - MAX_SKEW).strftime(TIMESTAMP)} ({stamp} - 15 min.)"))
    if at > now + MAX_SKEW:
        raise (AwsError(403, "RequestTimeTooSkewed", "The difference between the request time and the current "
                        "time is too large.") if s3 else
               AwsError(403, "InvalidSignatureException", f"Signature not yet current: {signed.timestamp} is still "
                        f"later than {(now + MAX_SKEW).strftime(TIMESTAMP)} ({stamp} + 15 min.)"))
    if signed.scope_date != signed.timestamp[:8]:
        raise _malformed(signed.service, signed.presigned,
                         "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                         f"'{signed.scope_date}' != '{signed.timestamp[:8]}', from '{signed.timestamp}'.")


class _OnlyTheSignedHeaders:
    """botocore's signer, fed exactly the headers the client signed (botocore would add ``host`` and drop a
    few it never signs; a verifier must take the client's list as it is)."""

    def __init__(self, credentials, service, region, signed: HTTPHeaders):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        return self._signed


class _Header(_OnlyTheSignedHeaders, SigV4Auth):
    pass


class _S3Header(_OnlyTheSignedHeaders, S3SigV4Auth):
    pass


class _Query(_OnlyTheSignedHeaders, SigV4QueryAuth):
    pass


class _S3Query(_OnlyTheSignedHeaders, S3SigV4QueryAuth):
    pass


def _payload_header(signed: _Signature, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]:
    """From lower-cased ``headers``: the ``X-Amz-Content-SHA256`` the canonical request is to carry (none: botocore hashes the body)."""
    declared = headers.get(CONTENT_SHA256)
    if _is_s3(signed.service):
        if signed.presigned:  # S3SigV4QueryAuth signs UNSIGNED-PAYLOAD unless the header itself was signed
            return {"X-Amz-Content-SHA256": declared} if CONTENT_SHA256 in signed.signed_headers else {}
        if declared is None:
            raise AwsError(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        if declared == "UNSIGNED-PAYLOAD" or declared.startswith("STREAMING-"):
            return {"X-Amz-Content-SHA256": declared}
        if not _HEX_SHA256.match(declared):
            raise AwsError(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                                                   "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.")
        if body is not None and not hmac.compare_digest(hashlib.sha256(body).hexdigest(), declared):
            raise AwsError(400, "XAmzContentSHA256Mismatch",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.")
        return {"X-Amz-Content-SHA256": declared}
    # Elsewhere the body itself is signed: a declared digest must be the body's, or the body was changed.
    if declared is not None and CONTENT_SHA256 in signed.signed_headers:
        if not hmac.compare_digest(hashlib.sha256(body or b"").hexdigest(), declared.strip()):
            raise _mismatch()
        return {"X-Amz-Content-SHA256": declared.strip()}
    return {}


def expected_signature(signed: _Signature, secret: str, *, method: str, path: str,
                       query: list[tuple[str, str]], headers: Mapping[str, str], body: bytes | None) -> str:
    """The signature botocore would make for this request; ``headers`` with lower-case names."""
    chosen = HTTPHeaders()
    for name in signed.signed_headers:
        value = headers.get(name)
        if value is None:
            raise _mismatch()  # signed, then dropped on the way
        chosen[name] = value
    s3 = _is_s3(signed.service)
    signer_class = (_S3Query if s3 else _Query) if signed.presigned else (_S3Header if s3 else _Header)
    signer = signer_class(Credentials(signed.access_key_id, secret), signed.service, signed.region, chosen)
    request = AWSRequest(method=method.upper(), url=f"http://{headers.get('host', 'localhost')}{path}",
                         data=body or b"", headers=_payload_header(signed, headers, body))
    # The query re-encoded AWS's way (RFC 3986, sorted); a presigned URL's own signature is not signed.
    request.params = [(name, value) for name, value in query if not (signed.presigned and name == "X-Amz-Signature")]
    request.context["timestamp"] = signed.timestamp
    canonical_request = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical_request), request)


def verify(*, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes | None,
           service: str | None = None, now: datetime | None = None, known=None) -> Caller:
    """Who signed this request, or AwsError in the words of the service signed for.

    ``known``: the signing key's ActiveAccessKey as the caller remembers it (webapp.s3.dispatch), checked
    with instead of reading the database; recording its use is then the caller's business.

    ``path`` is the path as sent, still percent-encoded; ``headers`` the request's (any case); ``body`` None only where the payload is not at hand (S3 streaming uploads).
    ``service``, if given, is the signing name this route answers for (e.g. ``sagemaker``)."""
    from webapp.accounts import selectors, services

    headers = {name.lower(): value for name, value in headers.items()}
    authorization = headers.get("authorization", "")
    query = parse_qsl(query_string, keep_blank_values=True)
    hint = service or service_of(authorization, query_string) or ""
    signed = _parse(authorization, query, headers, hint)
    if service is not None and signed.service != service:
        raise _malformed(service, signed.presigned, f"Credential should be scoped to correct service: '{service}'.")
    found = known if known is not None else selectors.active_access_key(signed.access_key_id)
    if found is not None and found.access_key.access_key_id != signed.access_key_id:
        raise ValueError("the remembered key is not the one that signed")
    if found is None:
        raise unknown_key(signed.service)
    _check_time(signed, now or datetime.now(timezone.utc))
    expected = expected_signature(signed, found.secret, method=method, path=path, query=query, headers=headers,
                                  body=body)
    if not hmac.compare_digest(expected.encode(), signed.signature.encode()):
        raise _mismatch()
    if known is None:
        services.access_key_used(found.access_key)
    return Caller(user=found.user, access_key=found.access_key, region=signed.region, service=signed.service,
                  secret=found.secret)


def verify_django(request, *, service: str | None = None) -> Caller:
    """``verify`` for a Django request: the raw path from the ASGI scope where there is one."""
    scope = getattr(request, "scope", None) or {}
    raw_path = scope.get("raw_path")
    if raw_path:
        path = raw_path.decode("latin-1").split("?", 1)[0]
    else:  # a WSGI or test request: Django has decoded the path; encode it as clients do
        from urllib.parse import quote

        path = quote(request.path, safe="/~")
    return verify(method=request.method, path=path, query_string=request.META.get("QUERY_STRING", ""),
                  headers=request.headers, body=request.body, service=service)
