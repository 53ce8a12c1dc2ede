"""AWS Signature Version 4 as AWS checks it: boto3's sagemaker-runtime client, unchanged, against the real web
app (uvicorn in its own process), and botocore's own signers and presigner against the verifier."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.support.api import import_model
from tests.support.aws import access_key, aws_environment, runtime, user_runtime
from tests.support.images import colour_jpeg

pytestmark = pytest.mark.django_db(transaction=True)
ONCE = {"retries": {"total_max_attempts": 1}}


def _refused(client, **call) -> dict:
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client.invoke_endpoint(**{"EndpointName": "colour-squares", "ContentType": "image/jpeg",
                                  "Body": colour_jpeg(0), **call})
    return {"status": refused.value.response["ResponseMetadata"]["HTTPStatusCode"], **refused.value.response["Error"]}


def test_boto3_configured_by_environment_alone_invokes_and_keys_stay_with_their_owner(
        api, alice, bob, serving, asgi_server, colour_artifact, monkeypatch):
    import boto3

    from classifier.inference import Predictor

    import_model(api, colour_artifact, name="colour-squares")
    image = colour_jpeg(2, seed=7)
    expected = Predictor(colour_artifact).predict([image])[0]
    # As a notebook does it: the lines the account page gives, and nothing else (no ~/.aws, no arguments).
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    for name, value in aws_environment(alice, asgi_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    client = boto3.client("sagemaker-runtime")
    response = client.invoke_endpoint(EndpointName="colour-squares", ContentType="image/jpeg", Body=image)
    np.testing.assert_allclose(json.loads(response["Body"].read()), expected, rtol=1e-4, atol=1e-5)

    from webapp.accounts.models import AccessKey

    assert AccessKey.objects.get(access_key_id=access_key(alice)[0]).last_used is not None
    # Bob's signature is right, and names Bob: Alice's endpoint is not his to find.
    refused = _refused(user_runtime(asgi_server, bob, **ONCE))
    assert (refused["status"], refused["Code"]) == (404, "ValidationError")
    assert refused["Message"].startswith("Endpoint colour-squares of account bob not found")


def test_a_wrong_secret_an_unknown_key_and_a_revoked_key_are_refused_in_aws_words(alice, asgi_server):
    from webapp.accounts.services import access_key_revoke
    from webapp.accounts.models import AccessKey

    key_id, secret = access_key(alice)
    wrong = _refused(runtime(asgi_server, key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B"), **ONCE))
    assert (wrong["status"], wrong["Code"]) == (403, "SignatureDoesNotMatch")
    assert wrong["Message"].startswith("The request signature we calculated does not match the signature you provided.")

    unknown = _refused(runtime(asgi_server, "AKIAAAAAAAAAAAAAAAAA", secret, **ONCE))
    assert (unknown["status"], unknown["Code"]) == (403, "UnrecognizedClientException")
    assert unknown["Message"] == "The security token included in the request is invalid."
    # The API token is no access key any more.
    from tests.support.api import api_key

    token = _refused(runtime(asgi_server, api_key(alice), "unused", **ONCE))
    assert token["Code"] == "UnrecognizedClientException"

    assert access_key_revoke(user=alice, key_id=AccessKey.objects.get(access_key_id=key_id).id)
    revoked = _refused(runtime(asgi_server, key_id, secret, **ONCE))
    assert (revoked["status"], revoked["Code"]) == (403, "UnrecognizedClientException")


def test_a_date_twenty_minutes_off_is_refused_as_expired(alice, asgi_server, monkeypatch):
    import botocore.auth

    key_id, secret = access_key(alice)
    for minutes, words in [(-20, "Signature expired"), (20, "Signature not yet current")]:
        monkeypatch.setattr(botocore.auth, "get_current_datetime",
                            lambda m=minutes: datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(minutes=m))
        refused = _refused(runtime(asgi_server, key_id, secret, **ONCE))
        assert (refused["status"], refused["Code"]) == (403, "InvalidSignatureException"), refused
        assert refused["Message"].startswith(words) and "15 min" in refused["Message"]


def test_a_body_changed_after_signing_is_refused(alice, asgi_server):
    key_id, secret = access_key(alice)
    client = runtime(asgi_server, key_id, secret, **ONCE)

    def tamper(request, **_):  # after SigV4 has signed the body: what a man in the middle would send
        request.body = request.body[:-1] + bytes([request.body[-1] ^ 1])

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", tamper)
    refused = _refused(client)
    assert (refused["status"], refused["Code"]) == (403, "SignatureDoesNotMatch")


# The verifier itself, against what botocore's signers make.

def _signed(signer, method: str, url: str, body: bytes = b"", headers: dict | None = None):
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    signer.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    return {"method": method, "path": parts.path, "query_string": parts.query,
            "headers": {"Host": parts.netloc, **dict(prepared.headers)}, "body": prepared.body or b""}


def _signer(kind, key_id, secret, service, **extra):
    from botocore import auth
    from botocore.credentials import Credentials

    return getattr(auth, kind)(Credentials(key_id, secret), service, "eu-west-1", **extra)


def test_botocores_own_presigned_s3_urls_verify_and_a_changed_one_does_not(alice):
    import boto3
    from botocore.config import Config

    from webapp.aws import sigv4
    from webapp.aws.errors import AwsError

    key_id, secret = access_key(alice)
    s3 = boto3.client("s3", endpoint_url="http://studio.test:8000", region_name="us-east-1", aws_access_key_id=key_id,
                      aws_secret_access_key=secret,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "models", "Key": "a b/model ü+.tar.gz"},
                                    ExpiresIn=300)
    parts = urlsplit(url)
    request = {"method": "GET", "path": parts.path, "query_string": parts.query, "headers": {"Host": parts.netloc},
               "body": b""}
    caller = sigv4.verify(**request)
    assert (caller.user, caller.service, caller.region) == (alice, "s3", "us-east-1")

    # The same URL for another object, or another method: the signature no longer fits.
    for changed in ({"path": parts.path.replace("models", "other")}, {"method": "PUT"},
                    {"query_string": parts.query.replace("X-Amz-Expires=300", "X-Amz-Expires=3000")}):
        with pytest.raises(AwsError) as refused:
            sigv4.verify(**{**request, **changed})
        assert refused.value.code == "SignatureDoesNotMatch", changed
    # Past its expiry: S3's words.
    with pytest.raises(AwsError) as expired:
        sigv4.verify(**request, now=datetime.now(timezone.utc) + timedelta(minutes=6))
    assert (expired.value.status, expired.value.code, expired.value.message) == (403, "AccessDenied",
                                                                                  "Request has expired")
    # The presigner's own class, for another service's scope and a query of its own.
    signed = _signed(_signer("S3SigV4QueryAuth", key_id, secret, "s3", expires=60), "GET",
                     "http://studio.test/models/x?versionId=3&list-type=2")
    assert sigv4.verify(**signed).region == "eu-west-1"
    with pytest.raises(AwsError) as unknown:
        sigv4.verify(**_signed(_signer("S3SigV4QueryAuth", "AKIAZZZZZZZZZZZZZZZZ", secret, "s3"), "GET",
                               "http://studio.test/models/x"))
    assert (unknown.value.code, unknown.value.message) == ("InvalidAccessKeyId", sigv4.UNKNOWN_S3_KEY)


def test_s3_header_signatures_honour_the_declared_payload_hash(alice):
    from webapp.aws import sigv4
    from webapp.aws.errors import AwsError

    key_id, secret = access_key(alice)
    s3 = _signer("S3SigV4Auth", key_id, secret, "s3")
    put = _signed(s3, "PUT", "http://studio.test/models/model.tar.gz", b"the artifact")
    assert put["headers"]["X-Amz-Content-SHA256"] != "UNSIGNED-PAYLOAD"
    assert sigv4.verify(**put).user == alice
    with pytest.raises(AwsError) as tampered:
        sigv4.verify(**{**put, "body": b"the artefact"})
    assert (tampered.value.status, tampered.value.code) == (400, "XAmzContentSHA256Mismatch")
    # UNSIGNED-PAYLOAD is taken as given: the body is not part of the signature then.
    from botocore.auth import S3SigV4Auth
    from botocore.credentials import Credentials

    class Unsigned(S3SigV4Auth):  # what botocore does for a streaming upload over https
        def _should_sha256_sign_payload(self, request):
            return False

    unsigned = _signed(Unsigned(Credentials(key_id, secret), "s3", "us-east-1"), "PUT", "http://studio.test/m/k",
                       b"streamed")
    assert unsigned["headers"]["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert sigv4.verify(**{**unsigned, "body": b"anything else"}).user == alice
    changed = {**unsigned, "headers": {**unsigned["headers"], "X-Amz-Content-SHA256": "0" * 64}}
    with pytest.raises(AwsError) as declared:  # the declared hash is signed: changing it breaks the signature
        sigv4.verify(**{**changed, "body": None})
    assert declared.value.code == "SignatureDoesNotMatch"
    with pytest.raises(AwsError) as skewed:
        sigv4.verify(**put, now=datetime.now(timezone.utc) + timedelta(minutes=20))
    assert (skewed.value.status, skewed.value.code) == (403, "RequestTimeTooSkewed")
    with pytest.raises(AwsError) as wrong:
        sigv4.verify(**_signed(_signer("S3SigV4Auth", key_id, "x" * 40, "s3"), "GET", "http://studio.test/m/k"))
    assert wrong.value.code == "SignatureDoesNotMatch"


def test_json_service_signatures_sign_the_body_and_name_their_service(alice):
    from webapp.aws import sigv4
    from webapp.aws.errors import AwsError

    key_id, secret = access_key(alice)
    request = _signed(_signer("SigV4Auth", key_id, secret, "sagemaker"), "POST",
                      "http://studio.test/endpoints/my%20model/invocations?x=1&a=b%2Fc", b'{"a": 1}',
                      headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.Describe"})
    assert sigv4.verify(**request, service="sagemaker").user == alice
    with pytest.raises(AwsError) as tampered:
        sigv4.verify(**{**request, "body": b'{"a": 2}'})
    assert tampered.value.code == "SignatureDoesNotMatch"
    with pytest.raises(AwsError) as header:  # a signed header changed on the way
        sigv4.verify(**{**request, "headers": {**request["headers"], "X-Amz-Target": "SageMaker.Delete"}})
    assert header.value.code == "SignatureDoesNotMatch"
    with pytest.raises(AwsError) as elsewhere:
        sigv4.verify(**request, service="s3")
    assert elsewhere.value.code == "AuthorizationHeaderMalformed"
    # A declared digest that is not the body's is a changed body too.
    declared = _signed(_signer("SigV4Auth", key_id, secret, "sagemaker"), "POST", "http://studio.test/invocations",
                       b"image", headers={"X-Amz-Content-SHA256": "0" * 64})
    with pytest.raises(AwsError) as lying:
        sigv4.verify(**declared)
    assert lying.value.code == "SignatureDoesNotMatch"
    unknown = _signed(_signer("SigV4Auth", "AKIAQQQQQQQQQQQQQQQQ", secret, "sts"), "POST", "http://studio.test/")
    with pytest.raises(AwsError) as refused:
        sigv4.verify(**unknown)
    assert (refused.value.status, refused.value.code) == (403, "InvalidClientTokenId")
    stale = {**request, "headers": {**request["headers"], "Authorization": request["headers"]["Authorization"]
                                    .replace("/eu-west-1/", "/eu-west-2/")}}
    with pytest.raises(AwsError) as rescoped:
        sigv4.verify(**stale)
    assert rescoped.value.code == "SignatureDoesNotMatch"


def test_a_malformed_or_misdated_signature_is_refused_before_any_secret_is_used(alice):
    from webapp.aws import sigv4
    from webapp.aws.errors import AwsError

    key_id, secret = access_key(alice)
    with pytest.raises(AwsError) as malformed:
        sigv4.verify(method="POST", path="/invocations", query_string="", body=b"",
                     headers={"Host": "studio.test", "X-Amz-Date": "20260101T000000Z",
                              "Authorization": f"AWS4-HMAC-SHA256 Credential={key_id}/20260101/us-east-1/sagemaker"})
    assert (malformed.value.status, malformed.value.code) == (400, "IncompleteSignatureException")
    request = _signed(_signer("SigV4Auth", key_id, secret, "sagemaker"), "POST", "http://studio.test/invocations")
    signed_at = datetime.strptime(request["headers"]["X-Amz-Date"], sigv4.TIMESTAMP).replace(tzinfo=timezone.utc)
    tomorrow = (signed_at + timedelta(days=1)).strftime(sigv4.TIMESTAMP)
    with pytest.raises(AwsError) as misdated:
        sigv4.verify(**{**request, "headers": {**request["headers"], "X-Amz-Date": tomorrow}},
                     now=signed_at + timedelta(days=1))
    assert misdated.value.code == "IncompleteSignatureException" and "Credential scope" in misdated.value.message


def test_each_protocols_error_shape_is_what_botocore_parses():
    from botocore import parsers

    from webapp.aws.errors import AwsError, json_error, rest_json_error, s3_error

    error = AwsError(403, "SignatureDoesNotMatch", "it does not match")
    for protocol, response in [("json", json_error(error)), ("rest-json", rest_json_error(error)),
                               ("rest-xml", s3_error(error, resource="/bucket/key"))]:
        parsed = parsers.create_parser(protocol).parse(
            {"status_code": response.status_code, "body": response.content,
             "headers": {name.lower(): value for name, value in response.items()}}, None)  # as botocore gets them
        assert parsed["Error"]["Code"] == "SignatureDoesNotMatch", (protocol, parsed)
        assert parsed["Error"]["Message"] == "it does not match", (protocol, parsed)
        assert parsed["ResponseMetadata"]["RequestId"], (protocol, parsed)
