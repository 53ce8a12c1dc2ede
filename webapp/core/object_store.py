"""IC Studio's own client of its S3 store: the launcher's embedded SeaweedFS, compose's ``s3`` service, or
any other S3-compatible store (AWS S3 included) named by the ``S3_*`` settings.

Django-free but for :meth:`Store.from_settings`: the launcher (waiting for the store it started) and tests
use it with a :class:`Store` of their own. Current boto3 sends a CRC32 checksum with every upload by
default (a header over HTTP; over HTTPS an ``aws-chunked`` body with the checksum in a trailer); SeaweedFS
4.x takes both (tests/test_object_store.py), so this client keeps boto3's defaults.
"""
from __future__ import annotations

import os
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

# Parts of 16 MB from 16 MB up, four at a time: a 2 GB dataset is 128 parts (S3 allows 10,000).
TRANSFER = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=4)
ADDRESSING_STYLES = ("path", "virtual", "auto")
_MISSING = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}


class NoStore(RuntimeError):
    """No S3 store is configured for this process."""


@dataclass(frozen=True)
class Store:
    """Where the store is and how to sign for it. ``access_key_id`` None: boto3's own credential chain
    (AWS_* variables, an instance role), as for AWS S3."""
    endpoint_url: str | None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    region: str = "us-east-1"
    addressing_style: str = "path"
    embedded: bool = False

    @classmethod
    def from_settings(cls) -> "Store":
        from django.conf import settings

        return cls(endpoint_url=settings.S3_ENDPOINT_URL, access_key_id=settings.S3_ACCESS_KEY_ID,
                   secret_access_key=settings.S3_SECRET_ACCESS_KEY, region=settings.S3_REGION,
                   addressing_style=settings.S3_ADDRESSING_STYLE, embedded=settings.S3_EMBEDDED)

    @property
    def shown_endpoint(self) -> str:
        """The endpoint without any ``user:password@`` or query: safe to show and to log."""
        if not self.endpoint_url:
            return ""
        parts = urllib.parse.urlsplit(self.endpoint_url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return urllib.parse.urlunsplit((parts.scheme, f"{host}:{parts.port}" if parts.port else host, parts.path, "", ""))


def make_client(store: Store | None = None, *, attempts: int = 5, connect_timeout: float = 5,
                read_timeout: float = 60):
    """A new boto3 S3 client for ``store`` (the settings' store by default): SigV4, the store's region and
    addressing (path-style unless told: ``http://host/bucket/key`` needs no wildcard DNS), boto3's
    standard retries (``attempts`` in all, backing off, on throttling and 5xx)."""
    store = store or Store.from_settings()
    if not store.endpoint_url:
        raise NoStore("no S3 store is configured: set S3_ENDPOINT_URL (for AWS S3 too, e.g. "
                      "https://s3.us-east-1.amazonaws.com), or run IC Studio with `./dev run`, which starts one")
    if store.addressing_style not in ADDRESSING_STYLES:
        raise ValueError(f"S3 addressing style must be one of {', '.join(ADDRESSING_STYLES)}, "
                         f"not {store.addressing_style!r}")
    config = Config(signature_version="s3v4", region_name=store.region,
                    s3={"addressing_style": store.addressing_style},
                    retries={"max_attempts": attempts, "mode": "standard"},
                    connect_timeout=connect_timeout, read_timeout=read_timeout)
    # A session of its own: boto3's default session is not safe to create clients from in several threads.
    return boto3.session.Session().client("s3", endpoint_url=store.endpoint_url, aws_access_key_id=store.access_key_id,
                                          aws_secret_access_key=store.secret_access_key, config=config)


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def client(store: Store | None = None):
    """The shared client for ``store`` in this process (boto3 clients are thread-safe). Kept per process:
    a Celery pool process forked from its parent makes its own rather than share the parent's sockets."""
    store = store or Store.from_settings()
    key = (os.getpid(), store)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = make_client(store)
        return _clients[key]


def is_missing(error: botocore.exceptions.ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING \
        or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


def ensure_bucket(bucket: str, *, s3=None) -> bool:
    """Make ``bucket`` unless it exists; whether it was made."""
    s3 = s3 or client()
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except botocore.exceptions.ClientError as error:
        if not is_missing(error):
            raise
    region = s3.meta.region_name
    # us-east-1 is the one region S3 refuses to be told about in a CreateBucket.
    arguments = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=bucket, **arguments)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
        return False
    return True


def upload_file(path: Path | str, bucket: str, key: str, *, s3=None, content_type: str | None = None) -> None:
    """``path`` to ``s3://bucket/key``; in parts (several at once) when it is large, by boto3's transfer manager."""
    extra = {"ContentType": content_type} if content_type else None
    (s3 or client()).upload_file(str(path), bucket, key, ExtraArgs=extra, Config=TRANSFER)


def download_file(bucket: str, key: str, path: Path | str, *, s3=None) -> Path:
    """``s3://bucket/key`` to ``path``, whole or not at all: written beside it, then renamed into place, so a
    download cut short never leaves a partial file where a complete one is expected."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(descriptor)
    try:
        (s3 or client()).download_file(bucket, key, draft, Config=TRANSFER)
        os.replace(draft, path)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise
    return path


def put_bytes(bucket: str, key: str, data: bytes, *, s3=None, content_type: str | None = None) -> None:
    extra = {"ContentType": content_type} if content_type else {}
    (s3 or client()).put_object(Bucket=bucket, Key=key, Body=data, **extra)


def get_bytes(bucket: str, key: str, *, s3=None) -> bytes:
    return (s3 or client()).get_object(Bucket=bucket, Key=key)["Body"].read()


def list_objects(bucket: str, prefix: str = "", *, s3=None, page_size: int = 1000) -> Iterator[dict]:
    """Every object under ``prefix`` (``Key``, ``Size``, ``ETag``, ``LastModified``), in key order, fetched a
    page of ``page_size`` at a time (ListObjectsV2)."""
    pages = (s3 or client()).get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size})
    for page in pages:
        yield from page.get("Contents", [])


def head(bucket: str, key: str, *, s3=None) -> dict | None:
    """The object's metadata (``ContentLength``, ``ETag``, ``ContentType`` ...), or None when there is none."""
    try:
        return (s3 or client()).head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as error:
        if is_missing(error):
            return None
        raise


def answers(store: Store, *, timeout: float = 2) -> list[str]:
    """The store's bucket names, asked once with ``timeout`` (no retries): whether it answers, and to these keys."""
    quick = make_client(store, attempts=1, connect_timeout=timeout, read_timeout=timeout)
    try:
        return [bucket["Name"] for bucket in quick.list_buckets().get("Buckets", [])]
    finally:
        quick.close()
