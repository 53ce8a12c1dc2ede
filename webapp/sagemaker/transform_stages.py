"""The worker's side of a CreateTransformJob: each input object read from the store (one image, or with
SplitType RecordIO a ``.rec`` of them), its images through the model, and its answer uploaded as
``<S3OutputPath>/<key relative to the input prefix>.out``, in the order CreateTransformJob listed them.

An object's answer is ``{"prediction": [...]}`` (spec 5.3: batch uses the object form whatever the Accept),
one JSON line per record for a split ``.rec``. An image that cannot be decoded ends the job Failed with a
``ClientError`` naming the object, as SageMaker's batch transform does; what was uploaded before stays.
Progress counts input objects: a redelivered job continues with the first object it had not finished."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions

from classifier.errors import ClassifierError
from classifier.invocation_contract import JSON_LINES
from webapp.core import media, object_store
from webapp.sagemaker import channels
from webapp.sagemaker.models import ApiTransform

RECORDIO_SPLIT = "RecordIO"


class TransformClientError(ClassifierError):
    """The job's input cannot be transformed; the message is its FailureReason."""

    def __init__(self, message: str):
        super().__init__(f"ClientError: {message}")


def _uri(entry: dict) -> str:
    return f"s3://{entry['bucket']}/{entry['key']}"


def output_key(prefix: str, name: str) -> str:
    """Where an input's answer goes: its name (its key after the input prefix) plus ``.out``."""
    return "/".join(part for part in (prefix.strip("/"), f"{name}.out") if part)


def _owned(owner, bucket: str, uri: str) -> None:
    from webapp.s3.selectors import bucket_of

    if bucket_of(user=owner, name=bucket) is None:
        raise TransformClientError(f"access denied to {uri}: the bucket is not one of yours")


def _fetch_bytes(entry: dict) -> bytes:
    from classifier.transform import MAX_IMAGE_BYTES

    try:
        answer = object_store.client().get_object(Bucket=entry["bucket"], Key=entry["key"])
    except botocore.exceptions.ClientError as error:
        if object_store.is_missing(error):
            raise TransformClientError(f"{_uri(entry)} is gone: it was deleted after the job was created") from None
        raise
    with answer["Body"] as body:
        if answer.get("ContentLength", 0) > MAX_IMAGE_BYTES:
            raise TransformClientError(f"{_uri(entry)} is {answer['ContentLength']} bytes; one image may be at most "
                                       f"{MAX_IMAGE_BYTES >> 20} MB")
        return body.read()


def _fetch_file(entry: dict, path: Path) -> Path:
    try:
        return object_store.download_file(entry["bucket"], entry["key"], path)
    except botocore.exceptions.ClientError as error:
        if object_store.is_missing(error):
            raise TransformClientError(f"{_uri(entry)} is gone: it was deleted after the job was created") from None
        raise


def _image(entry: dict):
    from classifier.transform import Item

    yield Item(_uri(entry), _fetch_bytes(entry))


def _records(entry: dict, scratch: Path):
    """The object's records, read from a local copy (the next object's copy replaces it)."""
    from classifier.errors import RecordIOError
    from classifier.transform import rec_items

    local = _fetch_file(entry, scratch / "split.rec")
    try:
        yield from rec_items(local)
    except RecordIOError as error:
        raise TransformClientError(f"{_uri(entry)} is not RecordIO, as SplitType RecordIO needs: {error}") from None
    finally:
        local.unlink(missing_ok=True)


def _sources(entries: list[dict], split: str, scratch: Path) -> Iterator:
    from classifier.transform import Source

    for entry in entries:
        items = _records(entry, scratch) if split == RECORDIO_SPLIT else _image(entry)
        yield Source(entry["name"], items)


def answer_body(source, entry: dict, *, split: str, accept: str) -> bytes:
    """The ``.out`` of one input, or the ClientError of its first image that has no prediction."""
    for position, answer in enumerate(source.answers):
        if answer.error:
            where = f"record {position} of {_uri(entry)}" if split == RECORDIO_SPLIT else _uri(entry)
            raise TransformClientError(f"{where} cannot be transformed: {answer.error}")
    rows = [json.dumps({"prediction": [float(p) for p in answer.probabilities]}) for answer in source.answers]
    if split == RECORDIO_SPLIT:
        return "".join(row + "\n" for row in rows).encode()
    return (rows[0] + ("\n" if accept == JSON_LINES else "")).encode()


def started(transform) -> int:
    """The worker has the job: its TransformStartTime (once) and how many objects it reads."""
    from django.utils import timezone

    ApiTransform.objects.filter(transform_id=transform.id, started__isnull=True).update(started=timezone.now())
    return len(ApiTransform.objects.values_list("inputs", flat=True).get(transform_id=transform.id))


def run(transform, predictor, *, on_progress) -> int:
    """Every input not yet done through ``predictor``, each answer uploaded as it is made; the objects done.
    ``on_progress(done)`` after each batch, where a cancel or a lost lease raises."""
    from classifier.invocation_contract import media_type
    from classifier.transform import transform_sources

    api = ApiTransform.objects.get(transform_id=transform.id)
    request = api.request
    split = request["TransformInput"].get("SplitType") or "None"
    accept = media_type((request.get("TransformOutput") or {}).get("Accept"))
    output = channels.s3_location(request["TransformOutput"]["S3OutputPath"], "S3OutputPath")
    _owned(transform.owner, output.bucket, output.uri)
    for bucket in sorted({entry["bucket"] for entry in api.inputs}):
        _owned(transform.owner, bucket, f"s3://{bucket}")
    skip = transform.done
    entries = api.inputs[skip:]
    scratch = media.transform_dir(transform)
    scratch.mkdir(parents=True, exist_ok=True)
    remaining = iter(entries)
    content_type = JSON_LINES if split == RECORDIO_SPLIT or accept == JSON_LINES else "application/json"

    def deliver(source) -> None:
        entry = next(remaining)
        body = answer_body(source, entry, split=split, accept=accept)
        object_store.put_bytes(output.bucket, output_key(output.key, entry["name"]), body, content_type=content_type)

    done = transform_sources(predictor, _sources(entries, split, scratch), deliver,
                             on_progress=lambda count: on_progress(skip + count))
    return skip + done
