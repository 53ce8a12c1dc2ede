"""SageMaker's batch-transform operations: CreateTransformJob, DescribeTransformJob, StopTransformJob,
ListTransformJobs. A job is an IC Studio batch transform (webapp.registry, kind ``s3``) of one of the caller's
models, shown on the model's page like any other; what it reads is listed here when it is created (an empty
prefix is refused at once, in AWS's words) and its worker is webapp/sagemaker/transform_stages.py.
A user sees only their own jobs and models: another user's is missing, in AWS's words."""
from __future__ import annotations


import botocore.exceptions
from django.db import IntegrityError, transaction

from webapp.aws.errors import AwsError
from webapp.sagemaker import arns, channels
from webapp.sagemaker.channels import invalid
from webapp.sagemaker.models import ApiTransform
from webapp.sagemaker.training_jobs import job_name, require

SPLIT_TYPES = ("None", "RecordIO")
ACCEPTS = ("", "application/json", "application/jsonlines")
RECORDIO = "application/x-recordio"
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")
MAX_INPUTS = 100_000  # the listing is kept on the job's row
MAX_MANIFEST_BYTES = 50 << 20
ENDED = {"succeeded": "Completed", "failed": "Failed", "cancelled": "Stopped"}


def _name(request: dict) -> str:
    return job_name(request, "TransformJobName")


def _kind(value) -> str:
    return (value or "").split(";")[0].strip().lower()


def transform_of(user, name: str):
    from webapp.registry.models import BatchTransform

    transform = (BatchTransform.objects.filter(owner=user, name__iexact=name, kind=BatchTransform.Kind.S3)
                 .select_related("model", "sagemaker").first())
    if transform is None:
        raise invalid(f"Could not find requested job with name {name}")
    return transform


def _model(caller, name: str):
    from webapp.registry.models import RegisteredModel

    model = RegisteredModel.objects.filter(owner=caller.user, name=name).first()
    if model is None:
        raise invalid(f'Could not find model "{arns.model_arn(caller.user, caller.region, name)}".')
    return model


def _input(request: dict) -> tuple[dict, str]:
    """TransformInput's S3 source and SplitType, as the image-classification algorithm can take them."""
    given = request["TransformInput"]
    source = (given.get("DataSource") or {}).get("S3DataSource")
    if not source:
        kind = next(iter(given.get("DataSource") or {}), "none")
        raise invalid(f"TransformInput.DataSource: only S3DataSource is supported here, not {kind}")
    if source.get("S3DataType") not in ("S3Prefix", "ManifestFile"):
        raise invalid(f"TransformInput: S3DataType must be S3Prefix or ManifestFile, not {source.get('S3DataType')!r} "
                      "(an AugmentedManifestFile is read by training only)")
    split = given.get("SplitType") or "None"
    if split not in SPLIT_TYPES:
        raise invalid(f"TransformInput: SplitType {split} is not supported for image classification: use None (one "
                      "image per object) or RecordIO (a .rec object, one answer line per record)")
    content = _kind(given.get("ContentType")) or "application/x-image"
    if content not in (*IMAGE_TYPES, RECORDIO):
        raise invalid(f"TransformInput: ContentType {content} is not supported by the image-classification algorithm: "
                      f"use {', '.join(IMAGE_TYPES)} or {RECORDIO} (with SplitType RecordIO)")
    if content == RECORDIO and split != "RecordIO":
        raise invalid(f"TransformInput: ContentType {RECORDIO} needs SplitType RecordIO, so that each record (one "
                      "image) is predicted on its own")
    if (given.get("CompressionType") or "None") != "None":
        raise invalid(f"TransformInput: CompressionType {given['CompressionType']} is not supported: send the objects "
                      "uncompressed (None)")
    return source, split


def _output(request: dict, *, user) -> channels.S3Location:
    from webapp.s3.selectors import bucket_of

    given = request["TransformOutput"]
    accept = _kind(given.get("Accept"))
    if accept not in ACCEPTS:
        raise invalid(f"TransformOutput: Accept {given['Accept']} is not supported: use application/json or "
                      "application/jsonlines")
    if (given.get("AssembleWith") or "None") not in ("None", "Line"):
        raise invalid(f"TransformOutput: AssembleWith must be None or Line, not {given['AssembleWith']!r}")
    location = channels.s3_location(given.get("S3OutputPath"), "TransformOutput.S3OutputPath")
    if bucket_of(user=user, name=location.bucket) is None:
        raise invalid(f"Access Denied for S3 output path {location.uri}: bucket '{location.bucket}' is not one of "
                      "yours")
    return location


def _relative(key: str, prefix: str) -> str:
    """The part of a key that names its output; a prefix that is the whole key leaves its last part."""
    return key[len(prefix):].lstrip("/") or key.rsplit("/", 1)[-1]


def _prefix_inputs(location: channels.S3Location) -> list[dict]:
    from webapp.core import object_store

    inputs = []
    for item in object_store.list_objects(location.bucket, location.key):
        if item["Key"].endswith("/"):  # a console's "folder"
            continue
        inputs.append({"bucket": location.bucket, "key": item["Key"], "name": _relative(item["Key"], location.key)})
        if len(inputs) > MAX_INPUTS:
            raise invalid(f"{location.uri} holds more than {MAX_INPUTS} objects: split the job into several prefixes")
    return inputs


def _manifest_inputs(location: channels.S3Location, *, user, region: str) -> list[dict]:
    """A manifest ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]``: each key is read from under the
    prefix and names its output."""
    from webapp.core import object_store
    from webapp.s3.selectors import bucket_of

    meta = object_store.head(location.bucket, location.key)
    if meta is None:
        raise channels.no_objects(location, None, region)
    if meta.get("ContentLength", 0) > MAX_MANIFEST_BYTES:
        raise invalid(f"The manifest {location.uri} is larger than {MAX_MANIFEST_BYTES >> 20} MB")
    try:
        base, keys = channels.manifest_parse(object_store.get_bytes(location.bucket, location.key), location)
    except ValueError as error:
        raise invalid(str(error)) from None
    if bucket_of(user=user, name=base.bucket) is None or not keys:
        raise channels.no_objects(base, None, region)
    if len(keys) > MAX_INPUTS:
        raise invalid(f"The manifest {location.uri} lists more than {MAX_INPUTS} objects: split the job")
    return [{"bucket": base.bucket, "key": base.key + key, "name": key.lstrip("/")} for key in keys]


def _inputs(source: dict, *, user, region: str) -> list[dict]:
    """Every object the job reads, in order, each with the name its output takes."""
    from webapp.s3.selectors import bucket_of

    location = channels.s3_location(source.get("S3Uri"), "TransformInput.DataSource.S3DataSource.S3Uri")
    if bucket_of(user=user, name=location.bucket) is None:
        raise channels.no_objects(location, None, region)
    try:
        if source["S3DataType"] == "ManifestFile":
            return _manifest_inputs(location, user=user, region=region)
        inputs = _prefix_inputs(location)
    except botocore.exceptions.ClientError:  # the store lost a bucket its owner still has on record
        raise channels.no_objects(location, None, region) from None
    if not inputs:
        raise channels.no_objects(location, None, region)
    return inputs


def _exists(arn: str) -> AwsError:
    return invalid(f"Job name must be unique within an AWS account and region, and a job with this name already "
                   f"exists ({arn})")


def create_transform_job(caller, request: dict) -> dict:
    from webapp.core.errors import ServiceError
    from webapp.registry.models import BatchTransform
    from webapp.registry.services import transform_create_s3

    user, region = caller.user, caller.region
    name = _name(request)
    require(request, "ModelName", "TransformInput", "TransformOutput", "TransformResources")
    arn = arns.transform_job_arn(user, region, name)
    if BatchTransform.objects.filter(owner=user, name__iexact=name).exists():
        raise _exists(arn)
    model = _model(caller, request["ModelName"])
    source, _ = _input(request)
    _output(request, user=user)
    inputs = _inputs(source, user=user, region=region)
    try:
        with transaction.atomic():
            transform = transform_create_s3(owner=user, model=model, name=name, input_name=source["S3Uri"],
                                            total=len(inputs))
            ApiTransform.objects.create(transform=transform, request=request, region=region, inputs=inputs)
    except IntegrityError:  # the same name created at the same moment
        raise _exists(arn) from None
    except ServiceError as error:
        raise invalid(str(error)) from None
    return {"TransformJobArn": arn}


def transform_job_status(transform) -> str:
    if transform.state in ENDED:
        return ENDED[transform.state]
    return "Stopping" if transform.cancel_requested else "InProgress"


def _seconds(moment) -> float | None:
    return moment.timestamp() if moment else None


def _api(transform) -> ApiTransform | None:
    return ApiTransform.objects.filter(transform_id=transform.id).first()


def description(transform, *, region: str) -> dict:
    """DescribeTransformJob's answer: the request as sent, with SageMaker's defaults where it sent none."""
    api = _api(transform)
    request = api.request if api else {}
    region = api.region if api else region
    status = transform_job_status(transform)
    given_input = request.get("TransformInput") or {}
    answer = {
        "TransformJobName": transform.name,
        "TransformJobArn": arns.transform_job_arn(transform.owner, region, transform.name),
        "TransformJobStatus": status,
        "ModelName": request.get("ModelName") or transform.model.name,
        "MaxConcurrentTransforms": request.get("MaxConcurrentTransforms", 1),
        "MaxPayloadInMB": request.get("MaxPayloadInMB", 6),
        "BatchStrategy": request.get("BatchStrategy") or "SingleRecord",
        "Environment": request.get("Environment") or {},
        "TransformInput": {"CompressionType": "None", "SplitType": "None",
                           "ContentType": given_input.get("ContentType") or "application/x-image", **given_input},
        "TransformOutput": {"AssembleWith": "None", **(request.get("TransformOutput") or {})},
        "TransformResources": request.get("TransformResources") or {},
        "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None",
                           **(request.get("DataProcessing") or {})},
        "CreationTime": _seconds(transform.created),
    }
    if api and api.started:
        answer["TransformStartTime"] = _seconds(api.started)
    if transform.finished:
        answer["TransformEndTime"] = _seconds(transform.finished)
    if status == "Failed":
        answer["FailureReason"] = transform.reason
    return answer


def describe_transform_job(caller, request: dict) -> dict:
    return description(transform_of(caller.user, _name(request)), region=caller.region)


def stop_transform_job(caller, request: dict) -> dict:
    from webapp.core.errors import ServiceError
    from webapp.registry.services import transform_cancel

    transform = transform_of(caller.user, _name(request))
    if transform.finished_state or transform.cancel_requested:
        raise invalid(f"The request was rejected because the transform job is in status "
                      f"{transform_job_status(transform)}.")
    try:
        transform_cancel(transform=transform)
    except ServiceError as error:  # it finished between the look and the cancel
        raise invalid(str(error)) from None
    return {}


def _summary(transform, *, region: str) -> dict:
    full = description(transform, region=region)
    keys = ("TransformJobName", "TransformJobArn", "CreationTime", "TransformEndTime", "TransformJobStatus",
            "FailureReason")
    summary = {key: full[key] for key in keys if key in full}
    summary["LastModifiedTime"] = full.get("TransformEndTime") or full.get("TransformStartTime") or full["CreationTime"]
    return summary


def list_transform_jobs(caller, request: dict) -> dict:
    from webapp.registry.models import BatchTransform
    from webapp.sagemaker.listing import listed, with_token

    page, token = listed(BatchTransform.objects.filter(owner=caller.user, kind=BatchTransform.Kind.S3).exclude(name="")
                         .select_related("model", "owner"), request, status_of=transform_job_status)
    return with_token({"TransformJobSummaries": [_summary(job, region=caller.region) for job in page]}, token)


OPERATIONS = {
    "CreateTransformJob": create_transform_job,
    "DescribeTransformJob": describe_transform_job,
    "StopTransformJob": stop_transform_job,
    "ListTransformJobs": list_transform_jobs,
}
