"""CreateTrainingJob's InputDataConfig, checked as SageMaker's image-classification algorithm takes it,
before the job is queued: the channels it knows, their content types, and data in the caller's own buckets.

Channels: ``train`` and ``validation`` (RecordIO ``.rec``, or images with ``train_lst``/``validation_lst``,
or an augmented manifest of images and labels), and ``model`` (a ``model.tar.gz`` to continue from).
Pipe mode is taken as File mode: the worker downloads every channel before training either way.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from webapp.aws.errors import AwsError

RECORDIO = "application/x-recordio"
IMAGE_TYPES = frozenset({"application/x-image", "image/jpeg", "image/png", "application/jpeg"})
MODEL = "application/x-sagemaker-model"
DATA_CHANNELS = ("train", "validation")
LIST_CHANNELS = ("train_lst", "validation_lst")
KNOWN = (*DATA_CHANNELS, *LIST_CHANNELS, "model")
DATA_TYPES = ("S3Prefix", "ManifestFile", "AugmentedManifestFile")


def invalid(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # the prefix, or the manifest's key

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def s3_location(uri: str, what: str) -> S3Location:
    if not isinstance(uri, str) or not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise invalid(f"{what} must be an S3 URL (s3://bucket/prefix), not {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return S3Location(bucket, key)


MANIFEST_SHAPE = '[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]'


def manifest_parse(raw: bytes, location: S3Location) -> tuple[S3Location, list[str]]:
    """A ManifestFile's prefix and keys (SageMaker's ``[{"prefix": ...}, "key", ...]``, for training channels and
    transform inputs alike); ValueError, in words for the user, for anything else."""
    try:
        manifest = json.loads(raw)
        base = s3_location(manifest[0]["prefix"], "the manifest's prefix")
        keys = manifest[1:]
        if not all(isinstance(key, str) and key for key in keys):
            raise ValueError("every entry after the prefix must be an object key")
    except (ValueError, KeyError, IndexError, TypeError, AwsError) as error:
        reason = error.message if isinstance(error, AwsError) else error
        raise ValueError(f"{location.uri} is not a manifest file ({MANIFEST_SHAPE}): {reason}") from None
    return base, keys


@dataclass(frozen=True)
class Channels:
    """The request's channels by name, and how the algorithm reads them."""

    by_name: dict[str, dict]
    input_mode: str  # "recordio" or "image": what the hyperparameters are checked for ("image" needs resize)

    def data_type(self, name: str) -> str:
        return self.by_name[name]["DataSource"]["S3DataSource"]["S3DataType"]


def content_type(channel: dict) -> str:
    given = (channel.get("ContentType") or "").split(";")[0].strip().lower()
    if given:
        return given
    name = channel["ChannelName"]
    return MODEL if name == "model" else "application/x-image" if name in LIST_CHANNELS else RECORDIO


def _source(channel: dict) -> dict:
    source = (channel.get("DataSource") or {})
    if "S3DataSource" not in source:
        kind = next(iter(source), "none")
        raise invalid(f"Channel '{channel.get('ChannelName')}': only S3DataSource is supported here, not {kind}")
    s3 = source["S3DataSource"]
    if s3.get("S3DataType") not in DATA_TYPES:
        raise invalid(f"Channel '{channel['ChannelName']}': S3DataType must be one of {', '.join(DATA_TYPES)}, not "
                      f"{s3.get('S3DataType')!r}")
    return s3


def channels_parse(config) -> Channels:
    """The channels, or the ValidationException SageMaker's algorithm would end the job with."""
    if not isinstance(config, list) or not config:
        raise invalid("InputDataConfig must name the train and validation channels")
    by_name: dict[str, dict] = {}
    for channel in config:
        name = channel.get("ChannelName") if isinstance(channel, dict) else None
        if not name:
            raise invalid("Each channel in InputDataConfig needs a ChannelName")
        if name in by_name:
            raise invalid(f"Channel names must be unique: '{name}' is given twice")
        if name not in KNOWN:
            raise invalid(f"Channel '{name}' is not one the image-classification algorithm reads: use "
                          f"{', '.join(KNOWN)}")
        _source(channel)
        by_name[name] = channel
    missing = [name for name in DATA_CHANNELS if name not in by_name]
    if missing:
        raise invalid(f"The image-classification algorithm needs the {' and '.join(missing)} channel"
                      f"{'s' if len(missing) > 1 else ''}")
    kinds = {}
    for name in DATA_CHANNELS:
        channel = by_name[name]
        kind, manifest = content_type(channel), _source(channel)["S3DataType"] == "AugmentedManifestFile"
        if manifest:
            attributes = _source(channel).get("AttributeNames") or []
            if len(attributes) != 2:
                raise invalid(f"Channel '{name}': an AugmentedManifestFile needs AttributeNames of two names, the "
                              f"image's then the label's (e.g. [\"source-ref\", \"class\"]), not {attributes}")
            if kind != RECORDIO and kind not in IMAGE_TYPES:
                raise invalid(f"Channel '{name}': content type {kind} is not supported for an augmented manifest: use "
                              f"{RECORDIO} (with RecordWrapperType RecordIO)")
            kinds[name] = "manifest"
        elif kind == RECORDIO:
            kinds[name] = "recordio"
        elif kind in IMAGE_TYPES:
            kinds[name] = "image"
        else:
            raise invalid(f"Channel '{name}': content type {kind} is not supported by the image-classification "
                          f"algorithm: use {RECORDIO}, or {', '.join(sorted(IMAGE_TYPES))} with a {name}_lst channel")
    for name in DATA_CHANNELS:
        listed = f"{name}_lst"
        if kinds[name] == "image" and listed not in by_name:
            raise invalid(f"Channel '{name}' holds images ({content_type(by_name[name])}): its .lst files go in a "
                          f"'{listed}' channel")
        if listed in by_name:
            if kinds[name] != "image":
                raise invalid(f"Channel '{listed}' lists images, so channel '{name}' must hold images "
                              f"(application/x-image), not {content_type(by_name[name])}")
            if content_type(by_name[listed]) not in IMAGE_TYPES:
                raise invalid(f"Channel '{listed}': content type {content_type(by_name[listed])} is not supported: "
                              "use application/x-image")
    if "model" in by_name and content_type(by_name["model"]) != MODEL:
        raise invalid(f"Channel 'model': content type {content_type(by_name['model'])} is not supported: use {MODEL}")
    return Channels(by_name, "image" if "image" in kinds.values() else "recordio")


def no_objects(location: S3Location, role_arn: str | None, region: str) -> AwsError:
    """AWS's words for a prefix that holds nothing, or a bucket the caller cannot list (a transform job names
    no role, and AWS's words then name none)."""
    if role_arn:
        tail = (f', that objects exist under that S3 prefix, and that the role "{role_arn}" has "s3:ListBucket" '
                f'permissions on bucket "{location.bucket}".')
    else:
        tail = " and that objects exist under that S3 prefix."
    return invalid(f'No S3 objects found under S3 URL "{location.uri}" given in input data source. Please ensure that '
                   f"the bucket exists in the selected region ({region})" + tail)


def channels_check_data(channels: Channels, *, user, role_arn: str, region: str) -> None:
    """Every channel's data is in a bucket of the caller's, and there is some."""
    from webapp.core import object_store
    from webapp.s3.selectors import bucket_of

    for name, channel in channels.by_name.items():
        source = _source(channel)
        location = s3_location(source.get("S3Uri"), f"Channel '{name}': S3Uri")
        if bucket_of(user=user, name=location.bucket) is None:
            raise no_objects(location, role_arn, region)
        if source["S3DataType"] == "S3Prefix":
            found = next(iter(object_store.list_objects(location.bucket, location.key, page_size=1)), None)
        else:
            found = object_store.head(location.bucket, location.key)
        if found is None:
            raise no_objects(location, role_arn, region)
