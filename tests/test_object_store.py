"""The S3 store and IC Studio's client of it, against a real SeaweedFS (started as the launcher starts its own):
objects in and out, a 50 MB multipart upload from a boto3 left at its defaults (CRC32 checksums, aws-chunked
bodies), ListObjectsV2 page by page, a wrong secret refused, the health check. Then the launcher on a fresh
copy: it starts the store with keys it made, its children reach it, and a killed store is started again with
its data."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig

from tests.launched import descendants, launched, signed_up
from tests.support import REPO
from tests.support.network import free_port
from tests.support.waiting import wait_until
from webapp.core import object_store
from webapp.core.object_store import Store


def _plain_boto3(endpoint: str, key: str, secret: str):
    """boto3 as a user would make it: nothing configured but where and who."""
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1")


def test_objects_go_in_and_come_out_and_a_missing_one_is_none(s3_store):
    s3 = object_store.make_client(s3_store.store)
    assert object_store.ensure_bucket("first-steps", s3=s3) is True
    assert object_store.ensure_bucket("first-steps", s3=s3) is False  # already there: left as it is
    object_store.put_bytes("first-steps", "notes/hello.txt", b"hello", s3=s3, content_type="text/plain")
    assert object_store.get_bytes("first-steps", "notes/hello.txt", s3=s3) == b"hello"
    described = object_store.head("first-steps", "notes/hello.txt", s3=s3)
    assert described["ContentLength"] == 5 and described["ContentType"] == "text/plain"
    assert object_store.head("first-steps", "notes/absent.txt", s3=s3) is None
    assert "first-steps" in object_store.answers(s3_store.store)


def test_a_50_mb_file_goes_up_in_parts_and_comes_back_whole_with_default_checksums(s3_store, tmp_path):
    original = tmp_path / "train.rec"
    with original.open("wb") as out:
        for _ in range(50):
            out.write(os.urandom(1 << 20))
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    plain = _plain_boto3(s3_store.endpoint_url, s3_store.access_key_id, s3_store.secret_access_key)
    # What current boto3 does unless told otherwise; SeaweedFS must take it, as users' clients will send it.
    assert plain.meta.config.request_checksum_calculation == "when_supported"
    plain.create_bucket(Bucket="datasets")
    plain.upload_file(str(original), "datasets", "plain/train.rec")  # boto3's own multipart, 8 MB parts
    assert plain.head_object(Bucket="datasets", Key="plain/train.rec")["ETag"].strip('"').endswith("-7")
    plain.download_file("datasets", "plain/train.rec", str(tmp_path / "plain.rec"))
    assert hashlib.sha256((tmp_path / "plain.rec").read_bytes()).hexdigest() == digest
    # One-part uploads too: bytes (a checksum header) and a small file (streamed, the checksum in a trailer).
    plain.put_object(Bucket="datasets", Key="plain/classes.txt", Body=b"red\ngreen\n")
    (tmp_path / "small.lst").write_bytes(b"0\t1\tred/0.jpg\n" * 1000)
    plain.upload_file(str(tmp_path / "small.lst"), "datasets", "plain/small.lst")
    assert plain.get_object(Bucket="datasets", Key="plain/classes.txt")["Body"].read() == b"red\ngreen\n"
    assert plain.get_object(Bucket="datasets", Key="plain/small.lst")["Body"].read() == (tmp_path / "small.lst").read_bytes()

    # And IC Studio's own helpers: 16 MB parts, the download renamed into place whole.
    s3 = object_store.make_client(s3_store.store)
    object_store.upload_file(original, "datasets", "icstudio/train.rec", s3=s3)
    described = object_store.head("datasets", "icstudio/train.rec", s3=s3)
    assert described["ContentLength"] == 50 << 20 and described["ETag"].strip('"').endswith("-4")
    back = object_store.download_file("datasets", "icstudio/train.rec", tmp_path / "deep" / "back.rec", s3=s3)
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in back.parent.iterdir()) == ["back.rec"]  # no part file left behind


def test_over_https_the_default_aws_chunked_bodies_with_a_crc32_trailer_are_taken(tmp_path):
    """Over TLS boto3 stops signing the payload and streams it aws-chunked, its CRC32 in a trailer (over
    plain HTTP it signs the payload's SHA-256 and sends the CRC32 as a header): SeaweedFS takes both."""
    from tests.support.s3 import seaweedfs, self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    https_port = free_port()
    with seaweedfs(tmp_path, f"-s3.cert.file={cert}", f"-s3.key.file={key}", f"-s3.port.https={https_port}") as store:
        plain = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{https_port}", aws_access_key_id=store.access_key_id,
                             aws_secret_access_key=store.secret_access_key, region_name="us-east-1", verify=str(cert))
        sent = []
        plain.meta.events.register("before-send.s3", lambda request, **_: sent.append({k.lower(): v for k, v in request.headers.items()}))
        plain.create_bucket(Bucket="over-tls")
        original = tmp_path / "train.rec"
        original.write_bytes(os.urandom(20 << 20))
        plain.upload_file(str(original), "over-tls", "parts.rec")  # three parts
        plain.upload_file(str(original), "over-tls", "whole.rec", Config=TransferConfig(multipart_threshold=1 << 30))
        streamed = [h for h in sent if h.get("content-encoding") == b"aws-chunked"]
        assert len(streamed) == 4 and all(h["x-amz-trailer"] == b"x-amz-checksum-crc32" for h in streamed), sent
        for key_name in ("parts.rec", "whole.rec"):
            assert plain.get_object(Bucket="over-tls", Key=key_name)["Body"].read() == original.read_bytes()


def test_listing_under_a_prefix_comes_page_by_page(s3_store):
    s3 = object_store.make_client(s3_store.store)
    object_store.ensure_bucket("listing", s3=s3)
    for i in range(25):
        object_store.put_bytes("listing", f"images/{i:03d}.jpg", b"x" * i, s3=s3)
    object_store.put_bytes("listing", "other/elsewhere.jpg", b"y", s3=s3)
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="listing", Prefix="images/",
                                                              PaginationConfig={"PageSize": 10}))
    assert [page["KeyCount"] for page in pages] == [10, 10, 5]
    listed = list(object_store.list_objects("listing", "images/", s3=s3, page_size=10))
    assert [o["Key"] for o in listed] == [f"images/{i:03d}.jpg" for i in range(25)]
    assert [o["Size"] for o in listed] == list(range(25))
    # ListObjects v1 too, which older clients still use.
    assert len(s3.list_objects(Bucket="listing", Prefix="images/", MaxKeys=30)["Contents"]) == 25


def test_a_wrong_secret_or_an_unknown_key_is_refused(s3_store):
    wrong_secret = _plain_boto3(s3_store.endpoint_url, s3_store.access_key_id, "not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        wrong_secret.list_buckets()
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = _plain_boto3(s3_store.endpoint_url, "AKIANOBODY0000000000", s3_store.secret_access_key)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        unknown.put_object(Bucket="first-steps-too", Key="x", Body=b"x")
    assert refused.value.response["Error"]["Code"] in ("InvalidAccessKeyId", "AccessDenied")


def test_an_endpoint_is_shown_without_its_credentials():
    assert Store("https://key:secret@s3.example.com:9000/base?x=1").shown_endpoint == "https://s3.example.com:9000/base"
    assert Store("http://[::1]:8333").shown_endpoint == "http://[::1]:8333"
    assert "secret" not in repr(Store("http://h", "key", "secret"))
    with pytest.raises(object_store.NoStore, match="S3_ENDPOINT_URL"):
        object_store.make_client(Store(None))


@pytest.mark.django_db
def test_health_names_the_store_and_says_when_it_is_down(s3_store, settings, admin_client):
    from webapp.operations import health

    settings.S3_ENDPOINT_URL, settings.S3_EMBEDDED = s3_store.endpoint_url, False
    settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY = s3_store.access_key_id, s3_store.secret_access_key
    check = health.object_store()
    assert check["ok"] and check["configured"] and check["embedded"] is False, check
    assert check["endpoint"] == s3_store.endpoint_url and check["buckets"] >= 0
    assert s3_store.secret_access_key not in str(check)
    page = admin_client.get("/health/").content.decode()
    row = re.search(r'<tr data-check="s3">.*?</tr>', page, re.S).group(0)
    assert "<td>ok</td>" in row and s3_store.endpoint_url in row and "external" in row, row

    settings.S3_ENDPOINT_URL = "http://AKIAEXAMPLE:hunter2@127.0.0.1:9"  # nothing listens on the discard port
    down = health.object_store()
    assert not down["ok"] and down["endpoint"] == "http://127.0.0.1:9" and down["ms"] < 5000, down
    assert "hunter2" not in str(down) and "Could not connect" in down["error"], down

    settings.S3_ENDPOINT_URL = None
    assert health.object_store() == {"ok": True, "ms": 0.0, "endpoint": "", "embedded": False, "configured": False}


def test_keys_the_store_was_started_with_are_the_ones_it_takes(tmp_path):
    """A restart with other keys (S3_ACCESS_KEY_ID changed) takes the new ones and refuses the old."""
    from tests.support.s3 import seaweedfs

    with seaweedfs(tmp_path) as first:
        s3 = object_store.make_client(first.store)
        object_store.ensure_bucket("kept", s3=s3)
        object_store.put_bytes("kept", "a", b"1", s3=s3)
        old = first.store
    with seaweedfs(tmp_path) as second:
        assert object_store.get_bytes("kept", "a", s3=object_store.make_client(second.store)) == b"1"
        with pytest.raises(botocore.exceptions.ClientError):
            object_store.answers(Store(second.endpoint_url, old.access_key_id, old.secret_access_key))


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                    reason="the launcher uses its own SQLite in its state folder, whatever the pass")
def test_the_launcher_starts_a_store_with_keys_it_made_and_starts_it_again_when_killed(tmp_path):
    if subprocess.run(["git", "rev-parse"], cwd=REPO, capture_output=True).returncode:
        pytest.skip("not a git checkout: no way to tell what a fresh clone holds")
    with launched(tmp_path) as launch:
        state = launch.clone / "var"
        keys = [state / "s3_access_key_id", state / "s3_secret_access_key"]
        assert all(path.stat().st_mode & 0o777 == 0o600 for path in keys)
        endpoint = re.search(r"\[launcher\] S3 \(SeaweedFS, embedded\) at (http://127\.0\.0\.1:\d+),",
                             launch.output()).group(1)
        store = Store(endpoint, keys[0].read_text().strip(), keys[1].read_text().strip())
        # In its environment, not on a command line every local user's `ps` shows.
        assert not [c for c in descendants(launch.process.pid).values() if store.secret_access_key in c]
        s3 = object_store.make_client(store)
        object_store.ensure_bucket("survives", s3=s3)
        object_store.put_bytes("survives", "a.txt", b"kept", s3=s3)
        with pytest.raises(botocore.exceptions.ClientError):
            object_store.answers(Store(endpoint, store.access_key_id, "not-the-secret"))

        # The web server was given the store: the health report (the first account is staff) names it.
        check = _health(signed_up(launch))["checks"]["s3"]
        assert check["ok"] and check["embedded"] and check["endpoint"] == endpoint, check

        [weed] = [pid for pid, command in descendants(launch.process.pid).items()
                  if " mini " in command and os.getpgid(pid) == pid]
        os.killpg(weed, signal.SIGKILL)  # as a crash
        wait_until(lambda: "starting s3 again" in launch.output(), "the launcher to start the store again", 30)
        again = wait_until(lambda: _answers(store), "the store to answer again", 60)
        assert "survives" in again
        # After a crash SeaweedFS lists its buckets a little before its volume server serves their objects
        # again (an InternalError in between, measured under a full test run): the object is awaited.
        kept = wait_until(lambda: _object(store, "survives", "a.txt"), "the store to serve the object again", 60)
        assert kept == b"kept"
        assert "s3 was killed by SIGKILL" in launch.output()
    assert not [path for path in Path("/tmp").glob("seaweedfs-*.sock")
                if path.stem.rsplit("-", 1)[-1] == endpoint.rsplit(":", 1)[1]]


def _object(store: Store, bucket: str, key: str) -> bytes | None:
    try:
        return object_store.get_bytes(bucket, key, s3=object_store.make_client(store))
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "NoSuchBucket"):
            raise  # lost, not late
        return None


def _answers(store: Store) -> list[str] | None:
    try:
        return object_store.answers(store)
    except Exception:
        return None


def _health(newcomer) -> dict:
    """The health report, 200 or 503 (a worker still starting makes it 503; the store's check is there either way)."""
    request = urllib.request.Request(f"{newcomer.base}/api/health/", headers={"Authorization": f"Token {newcomer.token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        assert error.code == 503, error
        return json.loads(error.read())


def test_a_port_taken_before_the_store_binds_it_makes_the_launcher_pick_others(tmp_path, monkeypatch, capsys):
    """Launchers side by side can pick the same free port; the one whose weed finds it taken picks again."""
    from webapp import embedded_store
    from webapp.launch import Supervisor

    picks, taken = [], socket.socket()
    real_pick = embedded_store.free_ports

    def pick(s3_port=0):
        picks.append(real_pick(s3_port))
        if len(picks) == 1:  # another process gets there first
            taken.bind(("127.0.0.1", picks[0]["filer"]))
            taken.listen()
        return picks[-1]

    monkeypatch.setattr(embedded_store, "free_ports", pick)
    supervisor = Supervisor()
    try:
        store = embedded_store.start(supervisor, tmp_path, dict(os.environ), access_key_id="RETRY" + "0" * 15,
                                     secret_access_key="s" * 40)
        assert len(picks) == 2 and [child.name for child in supervisor.children] == ["s3"]
        assert store.ports == picks[1] and object_store.answers(store.store) == []
    finally:
        supervisor.stop()
        taken.close()
        for ports in picks:
            embedded_store.EmbeddedStore(tmp_path, "", "", ports).remove_sockets()
    assert "trying other ports" in capsys.readouterr().err
