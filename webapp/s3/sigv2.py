"""S3's presigned URLs in the older signature (SigV2: ``?AWSAccessKeyId=&Expires=&Signature=``), which is what
boto3's ``generate_presigned_url`` still makes for S3 unless told ``signature_version="s3v4"``. Checked with
botocore's own SigV2 signer over what was received; every other S3 request is SigV4 (webapp/aws/sigv4.py).
"""
from __future__ import annotations

import hmac
import time
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import HmacV1Auth
from botocore.awsrequest import HTTPHeaders
from botocore.credentials import Credentials

from webapp.aws import sigv4
from webapp.aws.errors import AwsError

QUERY_NAMES = ("AWSAccessKeyId", "Signature", "Expires")


def is_presigned(query_string: str) -> bool:
    return "AWSAccessKeyId=" in query_string and "Signature=" in query_string


class _Expiring(HmacV1Auth):
    def __init__(self, credentials, expires: str):
        super().__init__(credentials)
        self._expires = expires

    def _get_date(self):
        return self._expires  # a presigned URL signs its expiry where a request would sign its Date


def verify(*, method: str, path: str, query_string: str, headers: dict[str, str]) -> sigv4.Caller:
    """Who signed this presigned URL (``path`` path-style, as sent), or AwsError in S3's words."""
    from webapp.accounts import selectors, services

    params = dict(parse_qsl(query_string, keep_blank_values=True))
    expires = params.get("Expires", "")
    if not expires.isdigit():
        raise AwsError(403, "AccessDenied", "Query-string authentication requires the Signature, Expires and "
                                            "AWSAccessKeyId parameters")
    found = selectors.active_access_key(params.get("AWSAccessKeyId", ""))
    if found is None:
        raise sigv4.unknown_key("s3")
    if time.time() > int(expires):
        raise AwsError(403, "AccessDenied", "Request has expired")
    signed = HTTPHeaders()
    for name, value in headers.items():
        if name in ("content-md5", "content-type") or name.startswith("x-amz-"):
            signed[name] = value
    signer = _Expiring(Credentials(found.access_key.access_key_id, found.secret), expires)
    expected = signer.sign_string(signer.canonical_string(method, urlsplit(f"http://host{path}?{query_string}"),
                                                          signed))
    if not hmac.compare_digest(expected.encode(), params.get("Signature", "").replace(" ", "+").encode()):
        raise AwsError(403, "SignatureDoesNotMatch", sigv4.MISMATCH)
    services.access_key_used(found.access_key)
    return sigv4.Caller(user=found.user, access_key=found.access_key, region="us-east-1", service="s3")
