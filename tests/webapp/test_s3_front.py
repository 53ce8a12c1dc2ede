"""S3 through IC Studio's own web server, as a notebook reaches it: boto3 configured by environment variables
alone (keys, region, AWS_ENDPOINT_URL) against a real uvicorn, whose S3 requests go to a real SeaweedFS."""
from __future__ import annotations

import hashlib
import hmac
import os
import urllib.error
import urllib.request

import pytest

from tests.support.aws import access_key, configure_by_environment
from tests.support.s3 import seaweedfs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with seaweedfs(tmp_path_factory.mktemp("weed")) as running:
        yield running


@pytest.fixture
def web(store, monkeypatch, request):
    """The real web server (``asgi_server``) with the store's settings in its environment, as the launcher
    gives them."""
    for name, value in store.settings_for_children().items():
        monkeypatch.setenv(name, value)
    return request.getfixturevalue("asgi_server")


@pytest.fixture
def as_user(web, monkeypatch):
    """Point boto3 at the web server as the account page says: environment variables and nothing else."""
    import boto3

    def client_of(user):
        configure_by_environment(monkeypatch, user, web)
        return boto3.client("s3")

    return client_of


def _error(call, *args, **kwargs) -> tuple[int, str]:
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        call(*args, **kwargs)
    return refused.value.response["ResponseMetadata"]["HTTPStatusCode"], refused.value.response["Error"]["Code"]


def _store_client(store):
    from webapp.core.object_store import make_client

    return make_client(store.store)


def test_a_user_makes_a_bucket_uploads_lists_downloads_and_deletes(alice, as_user, store, tmp_path):
    s3 = as_user(alice)
    s3.create_bucket(Bucket="alice-data")
    s3.put_object(Bucket="alice-data", Key="notes/hello world.txt", Body=b"hello")
    # Past the web app's 10 MB default for other routes: S3 takes up to 5 GB a request.
    large = os.urandom(12 << 20)
    s3.put_object(Bucket="alice-data", Key="large.bin", Body=large)
    assert s3.get_object(Bucket="alice-data", Key="large.bin")["Body"].read() == large
    assert s3.get_object(Bucket="alice-data", Key="notes/hello world.txt")["Body"].read() == b"hello"
    assert s3.head_object(Bucket="alice-data", Key="notes/hello world.txt")["ContentLength"] == 5
    odd = "odd/a+b!c (1)=;ü&$@,'~*.txt"
    s3.put_object(Bucket="alice-data", Key=odd, Body=b"odd")
    assert s3.get_object(Bucket="alice-data", Key=odd)["Body"].read() == b"odd"
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="alice-data", Prefix="odd/")["Contents"]] == [odd]
    s3.delete_object(Bucket="alice-data", Key=odd)
    assert s3.get_object(Bucket="alice-data", Key="notes/hello world.txt", Range="bytes=1-3")["Body"].read() == b"ell"
    # The store has it under the same name: IC Studio's training reads it from there.
    assert _store_client(store).get_object(Bucket="alice-data", Key="notes/hello world.txt")["Body"].read() == b"hello"

    # 50 MB: a multipart upload, with boto3's default CRC32 checksums, in parts several at a time.
    source = tmp_path / "train.rec"
    source.write_bytes(os.urandom(50 << 20))
    s3.upload_file(str(source), "alice-data", "train/train.rec")
    back = tmp_path / "back.rec"
    s3.download_file("alice-data", "train/train.rec", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()

    for index in range(7):
        s3.put_object(Bucket="alice-data", Key=f"many/{index:02d}", Body=str(index).encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="alice-data", Prefix="many/",
                                                               PaginationConfig={"PageSize": 3}))
    assert [len(page["Contents"]) for page in pages] == [3, 3, 1]
    assert [item["Key"] for page in pages for item in page["Contents"]] == [f"many/{i:02d}" for i in range(7)]
    assert [item["Key"] for item in s3.list_objects(Bucket="alice-data", Prefix="notes/")["Contents"]] == \
        ["notes/hello world.txt"]

    s3.copy_object(Bucket="alice-data", Key="copy.txt", CopySource={"Bucket": "alice-data",
                                                                     "Key": "notes/hello world.txt"})
    assert s3.get_object(Bucket="alice-data", Key="copy.txt")["Body"].read() == b"hello"
    assert s3.get_bucket_location(Bucket="alice-data")["LocationConstraint"] is None
    assert _error(s3.get_object, Bucket="alice-data", Key="absent") == (404, "NoSuchKey")

    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="alice-data")["Contents"]]
    s3.delete_objects(Bucket="alice-data", Delete={"Objects": [{"Key": key} for key in keys]})
    assert s3.list_objects_v2(Bucket="alice-data")["KeyCount"] == 0
    assert _error(s3.delete_bucket, Bucket="someone-elses") == (404, "NoSuchBucket")
    s3.delete_bucket(Bucket="alice-data")
    assert s3.list_buckets()["Buckets"] == []
    from webapp.s3.models import Bucket

    assert not Bucket.objects.filter(name="alice-data").exists()


def test_a_users_keys_reach_only_their_own_buckets(alice, bob, as_user, store):
    alice_s3 = as_user(alice)
    alice_s3.create_bucket(Bucket="alice-only")
    alice_s3.put_object(Bucket="alice-only", Key="secret.txt", Body=b"mine")
    assert _error(alice_s3.create_bucket, Bucket="alice-only") == (409, "BucketAlreadyOwnedByYou")

    bob_s3 = as_user(bob)
    bob_s3.create_bucket(Bucket="bob-stuff")
    denied = (403, "AccessDenied")
    assert _error(bob_s3.get_object, Bucket="alice-only", Key="secret.txt") == denied
    assert _error(bob_s3.put_object, Bucket="alice-only", Key="mine-now.txt", Body=b"x") == denied
    assert _error(bob_s3.list_objects_v2, Bucket="alice-only") == denied
    assert _error(bob_s3.delete_object, Bucket="alice-only", Key="secret.txt") == denied
    assert _error(bob_s3.delete_bucket, Bucket="alice-only") == denied
    # Copying out of Alice's bucket into his own is reading hers.
    assert _error(bob_s3.copy_object, Bucket="bob-stuff", Key="stolen.txt",
                  CopySource={"Bucket": "alice-only", "Key": "secret.txt"}) == denied
    assert _error(bob_s3.create_bucket, Bucket="alice-only") == (409, "BucketAlreadyExists")
    assert [bucket["Name"] for bucket in bob_s3.list_buckets()["Buckets"]] == ["bob-stuff"]
    assert [bucket["Name"] for bucket in alice_s3.list_buckets()["Buckets"]] == ["alice-only"]
    # A bucket in the store that no user made (IC Studio's own) is no one's to claim.
    _store_client(store).create_bucket(Bucket="icstudio-internal")
    assert _error(bob_s3.create_bucket, Bucket="icstudio-internal") == (409, "BucketAlreadyExists")
    assert _error(bob_s3.head_bucket, Bucket="icstudio-internal") == (404, "404")
    assert alice_s3.get_object(Bucket="alice-only", Key="secret.txt")["Body"].read() == b"mine"
    assert _error(bob_s3.get_object, Bucket="no-such-bucket", Key="x") == (404, "NoSuchBucket")


def test_a_change_to_keys_users_or_buckets_holds_from_the_next_request(alice, bob, as_user, store, broker):
    """The web server remembers keys and bucket owners between requests (webapp/core/access_generation.py):
    a bucket that changed hands, a key revoked with the account page's button and a user deactivated as
    the admin does it are each refused at the very next request; Redis emptied, nothing is refused."""
    from django.test import Client

    from tests.support.aws import access_key
    from webapp.accounts.models import AccessKey

    alice_s3 = as_user(alice)
    for bucket in ("changing-hands", "alice-keeps"):
        alice_s3.create_bucket(Bucket=bucket)
        alice_s3.put_object(Bucket=bucket, Key="a.txt", Body=b"alice's")
    for _ in range(3):  # remembered by now
        assert alice_s3.get_object(Bucket="changing-hands", Key="a.txt")["Body"].read() == b"alice's"
        assert alice_s3.get_object(Bucket="alice-keeps", Key="a.txt")["Body"].read() == b"alice's"

    alice_s3.delete_object(Bucket="changing-hands", Key="a.txt")
    alice_s3.delete_bucket(Bucket="changing-hands")
    bob_s3 = as_user(bob)
    bob_s3.create_bucket(Bucket="changing-hands")
    # Put in the store as IC Studio's training puts a model: no request of Bob's has named the bucket yet.
    _store_client(store).put_object(Bucket="changing-hands", Key="b.txt", Body=b"bob's")
    assert _error(alice_s3.get_object, Bucket="changing-hands", Key="b.txt") == (403, "AccessDenied")
    assert bob_s3.get_object(Bucket="changing-hands", Key="b.txt")["Body"].read() == b"bob's"

    page = Client()
    page.force_login(alice)
    key = AccessKey.objects.get(access_key_id=access_key(alice)[0])
    assert page.post(f"/account/access-key/{key.id}/revoke/").status_code == 302
    assert _error(alice_s3.get_object, Bucket="alice-keeps", Key="a.txt") == (403, "InvalidAccessKeyId")

    with broker.pool.acquire(block=True) as connection:
        connection.default_channel.client.flushdb()  # the token gone: a new one, nothing remembered trusted
    assert bob_s3.get_object(Bucket="changing-hands", Key="b.txt")["Body"].read() == b"bob's"
    bob.is_active = False
    bob.save()
    assert _error(bob_s3.get_object, Bucket="changing-hands", Key="b.txt") == (403, "InvalidAccessKeyId")


def test_a_remembered_row_is_used_only_under_its_token_and_for_a_minute_at_most(monkeypatch):
    from webapp.core import access_generation

    remembered = access_generation.Remembered(size=2)
    remembered.put("key", b"token-1", "row")
    assert remembered.get("key", b"token-1") == "row"
    assert remembered.get("key", None) is None  # Redis not answering: nothing trusted
    assert remembered.get("key", b"token-2") is None and remembered.get("key", b"token-1") is None  # forgotten
    remembered.put("key", None, "row")
    assert remembered.get("key", None) is None
    for name in ("a", "b", "c"):
        remembered.put(name, b"t", name)
    assert remembered.get("a", b"t") is None and remembered.get("c", b"t") == "c"  # the oldest went first
    clock = [1000.0]
    monkeypatch.setattr(access_generation.time, "monotonic", lambda: clock[0])
    remembered.put("aging", b"t", "row")
    clock[0] += access_generation.REMEMBER_SECONDS + 1
    assert remembered.get("aging", b"t") is None


def test_wrong_secrets_unknown_keys_and_changed_bodies_are_refused(alice, as_user, store, web):
    import boto3
    from botocore.config import Config

    s3 = as_user(alice)
    s3.create_bucket(Bucket="checked")
    key_id, secret = access_key(alice)
    once = Config(retries={"total_max_attempts": 1})
    wrong = boto3.client("s3", aws_access_key_id=key_id, aws_secret_access_key=secret[:-1] + ("A" if secret[-1] != "A" else "B"), config=once)
    assert _error(wrong.put_object, Bucket="checked", Key="x", Body=b"x") == (403, "SignatureDoesNotMatch")
    unknown = boto3.client("s3", aws_access_key_id="AKIAAAAAAAAAAAAAAAAA", aws_secret_access_key=secret, config=once)
    assert _error(unknown.list_buckets) == (403, "InvalidAccessKeyId")
    # Larger than the web app's 10 MB default, refused from the headers all the same.
    assert _error(unknown.put_object, Bucket="checked", Key="big", Body=b"x" * (12 << 20)) == \
        (403, "InvalidAccessKeyId")

    tampered = boto3.client("s3", config=once)

    def tamper(request, **_):  # after SigV4 has signed the body's SHA-256: what a man in the middle would send
        request.body = b"HELLO"

    tampered.meta.events.register("before-send.s3.PutObject", tamper)
    assert _error(tampered.put_object, Bucket="checked", Key="changed.txt", Body=b"hello") == \
        (400, "XAmzContentSHA256Mismatch")
    assert s3.list_objects_v2(Bucket="checked")["KeyCount"] == 0
    assert "checked" in [b["Name"] for b in _store_client(store).list_buckets()["Buckets"]]

    # Presigned: a link that works from anything that speaks HTTP.
    s3.put_object(Bucket="checked", Key="shared.txt", Body=b"for anyone with the link")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "checked", "Key": "shared.txt"}, ExpiresIn=60)
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"for anyone with the link"
    with pytest.raises(urllib.error.HTTPError) as changed:
        urllib.request.urlopen(url.replace("shared.txt", "other.txt"))
    assert changed.value.code == 403 and b"SignatureDoesNotMatch" in changed.value.read()
    # The web app's own pages are still Django's.
    with urllib.request.urlopen(f"{web}/signin/") as response:
        assert response.status == 200


@pytest.mark.parametrize("asgi_server_tls", [True])
def test_over_https_boto3s_aws_chunked_uploads_with_trailing_checksums_arrive_whole(
        alice, as_user, store, tmp_path, monkeypatch, asgi_server_tls):
    """Over HTTPS current botocore sends uploads as aws-chunked bodies with a trailing CRC32: decoded and
    checked on the way, the store gets the plain bytes."""
    import base64
    import zlib

    import botocore.exceptions

    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "cert.pem"))
    s3 = as_user(alice)
    s3.create_bucket(Bucket="secure")
    sent = []
    s3.meta.events.register("before-send.s3.*", lambda request, **_: sent.append(dict(request.headers)))
    s3.put_object(Bucket="secure", Key="small.bin", Body=b"chunked hello")
    assert sent[-1].get("Content-Encoding") in ("aws-chunked", b"aws-chunked")
    assert s3.get_object(Bucket="secure", Key="small.bin")["Body"].read() == b"chunked hello"
    source = tmp_path / "valid.rec"
    source.write_bytes(os.urandom(20 << 20))
    s3.upload_file(str(source), "secure", "valid.rec")
    back = tmp_path / "back.rec"
    s3.download_file("secure", "valid.rec", str(back))
    assert back.read_bytes() == source.read_bytes()

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # one try: a refusal is not to be retried
    once = as_user(alice)
    body = b"x" * 1000
    right = base64.b64encode(zlib.crc32(body).to_bytes(4, "big"))

    def wrong_trailer(request, **_):  # the trailing CRC32 changed: the body no longer matches its checksum
        framed = request.body.read()
        assert right in framed
        request.body = framed.replace(right, b"AAAAAA==")

    once.meta.events.register("before-send.s3.PutObject", wrong_trailer)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        once.put_object(Bucket="secure", Key="bad.bin", Body=body)
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="secure")["Contents"]] == ["small.bin", "valid.rec"]
    for client in (s3, once):  # its kept-alive TLS connections closed now, not waited for at the server's end
        client.close()


def test_a_signed_chunk_upload_is_taken_and_a_changed_chunk_is_refused(alice, as_user, web):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as the Java and Go SDKs send it: each chunk signed, chained from
    the request's own signature."""
    import re

    import urllib3
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from webapp.s3.chunked import SIGNED, ChunkSigning

    s3 = as_user(alice)
    s3.create_bucket(Bucket="chunks")
    key_id, secret = access_key(alice)
    data = os.urandom(200_000)

    class Streaming(S3SigV4Auth):
        def payload(self, request):
            return SIGNED

    def put(key: str, change=lambda body: body) -> int:
        url = f"{web}/chunks/{key}"
        request = AWSRequest("PUT", url, headers={"Content-Encoding": "aws-chunked",
                                                  "X-Amz-Decoded-Content-Length": str(len(data))})
        Streaming(Credentials(key_id, secret), "s3", "us-east-1").add_auth(request)
        headers = dict(request.headers)
        seed = re.search(r"Signature=([0-9a-f]{64})", headers["Authorization"]).group(1)
        signing = ChunkSigning(secret=secret, timestamp=headers["X-Amz-Date"],
                               scope=f"{headers['X-Amz-Date'][:8]}/us-east-1/s3/aws4_request", seed_signature=seed)
        body = change(_signed_body(data, 65536, signing))
        return urllib3.PoolManager().request("PUT", url, body=body, headers=headers).status

    assert put("whole.bin") == 200
    assert s3.get_object(Bucket="chunks", Key="whole.bin")["Body"].read() == data
    assert put("changed.bin", lambda body: body[:70_000] + bytes([body[70_000] ^ 1]) + body[70_001:]) == 403
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="chunks")["Contents"]] == ["whole.bin"]


# The aws-chunked decoder, against bodies made as botocore and the AWS SDKs make them.

def _signing():
    from webapp.s3.chunked import ChunkSigning

    return ChunkSigning(secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", timestamp="20130524T000000Z",
                        scope="20130524/us-east-1/s3/aws4_request",
                        seed_signature="4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")


def _signed_body(data: bytes, chunk: int, signing, *, trailer: str | None = None) -> bytes:
    key, previous, body = signing.key(), signing.seed_signature, b""
    for start in [*range(0, len(data), chunk), len(data)]:
        piece = data[start:start + chunk] if start < len(data) else b""
        previous = signing.chunk(key, previous, hashlib.sha256(piece).hexdigest())
        body += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece + b"\r\n"
        if not piece:
            break
    if trailer:
        body = body[:-2] + trailer.encode() + b"\r\n"
        signature = signing.trailer(key, previous, trailer.encode() + b"\n")
        body += f"x-amz-trailer-signature:{signature}\r\n\r\n".encode()
    return body


def _decode(body: bytes, *, step: int = 7, **decoder) -> bytes:
    from webapp.s3.chunked import Decoder

    decoding = Decoder(**decoder)
    out = b"".join(b"".join(decoding.feed(body[i:i + step])) for i in range(0, len(body), step))
    decoding.finish()
    return out


def test_aws_chunked_bodies_decode_with_their_signatures_and_checksums_checked():
    import base64
    import zlib

    from webapp.aws.errors import AwsError

    signing = _signing()
    # AWS's own example (S3 docs, "Signature calculations ... multiple chunks"): 66560 bytes of 'a', 64 KB
    # chunks; its first chunk signature is ad80c730...
    data = b"a" * 66560
    body = _signed_body(data, 65536, signing)
    assert b"chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648" in body
    assert _decode(body, signing=signing, decoded_length=len(data)) == data
    assert _decode(body, step=1 << 20, signing=signing, decoded_length=len(data)) == data

    changed = body.replace(b"a" * 10, b"b" * 10, 1)
    with pytest.raises(AwsError) as refused:
        _decode(changed, signing=signing, decoded_length=len(data))
    assert refused.value.code == "SignatureDoesNotMatch"
    with pytest.raises(AwsError) as cut:  # the final chunk missing
        _decode(body[:-60], signing=signing, decoded_length=len(data))
    assert cut.value.code in ("IncompleteBody", "SignatureDoesNotMatch")

    # Signed chunks with a signed trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER).
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    trailed = _signed_body(data, 8192, signing, trailer=f"x-amz-checksum-crc32:{crc}")
    assert _decode(trailed, signing=signing, trailer="x-amz-checksum-crc32", decoded_length=len(data)) == data
    forged = trailed.replace(crc.encode(), base64.b64encode(b"\0\0\0\0"))
    with pytest.raises(AwsError) as refused:
        _decode(forged, signing=signing, trailer="x-amz-checksum-crc32", decoded_length=len(data))
    assert refused.value.code == "SignatureDoesNotMatch"

    # Unsigned chunks with a checksum trailer, exactly as botocore frames them over HTTPS.
    import io

    from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

    framed = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=Crc32Checksum,
                               checksum_name="x-amz-checksum-crc32", chunk_size=10000).read()
    assert _decode(framed, trailer="x-amz-checksum-crc32", decoded_length=len(data)) == data
    wrong_crc = framed.replace(crc.encode(), base64.b64encode(b"\0\0\0\1"))
    with pytest.raises(AwsError) as refused:
        _decode(wrong_crc, trailer="x-amz-checksum-crc32", decoded_length=len(data))
    assert refused.value.code == "BadDigest"
    with pytest.raises(AwsError) as short:
        _decode(framed, trailer="x-amz-checksum-crc32", decoded_length=len(data) + 1)
    assert short.value.code == "IncompleteBody"
    assert hmac.compare_digest(_decode(framed, step=1, trailer="x-amz-checksum-crc32"), data)


def test_path_style_and_virtual_hosted_addresses_name_the_same_bucket_and_key(settings):
    from webapp.s3.dispatch import S3Request

    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", ".studio.example"]

    def read(host: str, path: str) -> tuple:
        request = S3Request({"method": "GET", "headers": [(b"host", host.encode())], "raw_path": path.encode(),
                             "path": path, "query_string": b""})
        return request.bucket, request.key, request.store_path

    assert read("127.0.0.1:8000", "/photos/cats/a%20b.jpg") == ("photos", "cats/a b.jpg", "/photos/cats/a%20b.jpg")
    assert read("photos.localhost:8000", "/cats/a%20b.jpg") == ("photos", "cats/a b.jpg", "/photos/cats/a%20b.jpg")
    assert read("photos.studio.example", "/") == ("photos", None, "/photos")
    assert read("localhost:8000", "/") == (None, None, "/")
    assert read("[::1]:8000", "/photos") == ("photos", None, "/photos")
