"""The bucket operations IC Studio answers itself, because ownership is its to keep: CreateBucket (the name
claimed for the caller, then made in the store), DeleteBucket, ListBuckets (the caller's only),
GetBucketLocation; and the ownership check every other request passes before it reaches the store.
"""
from __future__ import annotations

import ipaddress
import re
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction

from webapp.aws.errors import AwsError
from webapp.s3 import selectors
from webapp.s3.models import Bucket

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def already_exists() -> AwsError:
    return AwsError(409, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace "
                                                "is shared by all users of the system. Please select a different "
                                                "name and try again.")


def no_such_bucket() -> AwsError:
    return AwsError(404, "NoSuchBucket", "The specified bucket does not exist")


def access_denied() -> AwsError:
    return AwsError(403, "AccessDenied", "Access Denied")


def check_name(name: str) -> None:
    """AWS's rules for a general purpose bucket's name."""
    try:
        ipaddress.ip_address(name)
        is_address = True
    except ValueError:
        is_address = False
    if not _NAME.match(name) or ".." in name or is_address or name.startswith("xn--") or name.endswith("-s3alias"):
        raise AwsError(400, "InvalidBucketName", "The specified bucket is not valid.")


def location_constraint(body: bytes) -> str:
    """The region a CreateBucketConfiguration asks for ('us-east-1' when there is none)."""
    if not body.strip():
        return "us-east-1"
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise AwsError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate "
                                            "against our published schema") from None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "LocationConstraint":
            return (element.text or "").strip() or "us-east-1"
    return "us-east-1"


@database_sync_to_async
def claim(*, user, name: str, region: str) -> Bucket:
    """The name made the caller's, before the store is asked: two users asking at once get one bucket."""
    existing = Bucket.objects.filter(name=name).select_related("owner").first()
    if existing is not None:
        if existing.owner_id == user.pk:
            raise AwsError(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                                                           "succeeded and you already own it.")
        raise already_exists()
    try:
        with transaction.atomic():
            return Bucket.objects.create(name=name, owner=user, region=region)
    except IntegrityError:
        raise already_exists() from None


@database_sync_to_async
def release(name: str) -> None:
    Bucket.objects.filter(name=name).delete()


def owned(*, user, name: str) -> Bucket:
    """The caller's bucket of that name, else NoSuchBucket (nobody's) or AccessDenied (someone else's).
    Synchronous: called in the same database-thread trip as the signature's check (dispatch.S3Request._admit)."""
    bucket = selectors.bucket_of(user=user, name=name)
    if bucket is not None:
        return bucket
    raise access_denied() if selectors.bucket_exists(name) else no_such_bucket()


@database_sync_to_async
def listing(*, user) -> bytes:
    """ListAllMyBucketsResult with the caller's buckets only."""
    buckets = "".join(f"<Bucket><Name>{escape(bucket.name)}</Name><CreationDate>"
                      f"{bucket.created.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</CreationDate>"
                      f"<BucketRegion>{escape(bucket.region)}</BucketRegion></Bucket>"
                      for bucket in selectors.bucket_list(user=user))
    owner = f"<Owner><ID>{user.pk}</ID><DisplayName>{escape(user.get_username())}</DisplayName></Owner>"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="{XMLNS}">{owner}'
            f"<Buckets>{buckets}</Buckets></ListAllMyBucketsResult>").encode()


def location(bucket: Bucket) -> bytes:
    # us-east-1 is told as an empty constraint, as AWS does.
    region = "" if bucket.region == "us-east-1" else escape(bucket.region)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{XMLNS}">{region}'
            f"</LocationConstraint>").encode()
