"""SageMaker's training-job operations, each taking the caller and the request's JSON and returning the
answer's. A job is an ordinary IC Studio training job (webapp.training), queued for the training workers;
a user sees only their own: another user's job is missing, in AWS's words."""
from __future__ import annotations

import re
import time
from functools import partial

from django.db import IntegrityError, transaction

from webapp.aws.errors import AwsError
from webapp.sagemaker import arns, channels
from webapp.sagemaker.channels import invalid
from webapp.sagemaker.models import ApiJob, Tag
from webapp.training.models import JOB_NAME, TrainingJob

# Every account and region of the algorithm's image (sagemaker.image_uris.retrieve("image-classification", region)).
IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/image-classification"
                   r"(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})?$")


def require(request: dict, *names: str) -> None:
    """AWS's words for a member the request left out."""
    for name in names:
        if request.get(name) in (None, "", [], {}):
            raise invalid(f"1 validation error detected: Value null at '{name[0].lower()}{name[1:]}' failed to satisfy "
                          "constraint: Member must not be null")


def job_name(request: dict, member: str) -> str:
    """The request's ``member`` (TrainingJobName, TransformJobName, ...), checked as SageMaker checks names."""
    require(request, member)
    name = request[member]
    if not isinstance(name, str) or not JOB_NAME.match(name):
        raise invalid(f"1 validation error detected: Value '{name}' at '{member[0].lower()}{member[1:]}' failed to "
                      "satisfy constraint: Member must satisfy regular expression pattern: "
                      "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
    return name


def _name(request: dict) -> str:
    return job_name(request, "TrainingJobName")


def job_of(user, name: str, *, missing: str = "Could not find requested job with name {name}") -> TrainingJob:
    """The caller's job of that name, or AWS's words for a missing one (someone else's job is missing too)."""
    job = TrainingJob.objects.filter(owner=user, name__iexact=name).select_related("sagemaker").first()
    if job is None:
        raise invalid(missing.format(name=name))
    return job


def _image(request: dict) -> None:
    spec = request.get("AlgorithmSpecification") or {}
    image = spec.get("TrainingImage")
    if not image:
        raise invalid(f"AlgorithmSpecification needs a TrainingImage: IC Studio runs SageMaker's image-classification "
                      f"algorithm, e.g. 811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
                      f"{' (AlgorithmName is not supported)' if spec.get('AlgorithmName') else ''}")
    if not IMAGE.match(image):
        raise invalid(f"TrainingImage {image} is not supported: IC Studio runs SageMaker's built-in image-classification "
                      "algorithm only (the image sagemaker.image_uris.retrieve(\"image-classification\", region) "
                      "names, in any region)")


def _resources(request: dict) -> None:
    resources = request.get("ResourceConfig") or {}
    count = resources.get("InstanceCount", 1)
    if count != 1:
        raise invalid(f"InstanceCount {count} is not supported: a job here trains on one worker (all its GPUs); "
                      "set InstanceCount to 1")
    runtime = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    if runtime is not None and (not isinstance(runtime, int) or runtime < 1):
        raise invalid(f"1 validation error detected: Value '{runtime}' at 'stoppingCondition.maxRuntimeInSeconds' "
                      "failed to satisfy constraint: Member must have value greater than or equal to 1")


def _hyperparameters(request: dict, parsed: channels.Channels) -> tuple[dict[str, str], str]:
    from classifier.errors import HyperparameterError
    from classifier.hyperparameters import parse_hyperparameters

    from webapp.training.services import pretrained_available

    given = request.get("HyperParameters") or {}
    if not isinstance(given, dict) or any(not isinstance(v, str) for v in given.values()):
        raise invalid("HyperParameters must be a map of strings to strings")
    try:
        hp = parse_hyperparameters(given, input_mode=parsed.input_mode)
    except HyperparameterError as error:
        problems = "; ".join(f"{k}: {v}" if k else v for k, v in error.problems.items())
        raise invalid(f"Hyperparameters are not valid for the image-classification algorithm: {problems}") from None
    if (hp.kv_store or "").startswith("dist"):
        raise invalid(f"kv_store {hp.kv_store} spans several machines; a job here trains on one (InstanceCount 1)")
    if "model" in parsed.by_name:
        mode = TrainingJob.Mode.INCREMENTAL
    elif hp.use_pretrained_model:
        if not pretrained_available(hp.num_layers):
            raise invalid(f"use_pretrained_model=1: no ImageNet weights for ResNet-{hp.num_layers} in this IC Studio's "
                          "model store (`python -m classifier fetch-pretrained` puts them there)")
        mode = TrainingJob.Mode.TRANSFER
    else:
        mode = TrainingJob.Mode.FULL
    return hp.to_sagemaker(), mode


def _output(request: dict, *, user) -> None:
    from webapp.s3.selectors import bucket_of

    path = (request.get("OutputDataConfig") or {}).get("S3OutputPath")
    location = channels.s3_location(path, "OutputDataConfig.S3OutputPath")
    if bucket_of(user=user, name=location.bucket) is None:
        raise AwsError(400, "ValidationException", f"Access Denied for S3 output path {path}: bucket "
                                                   f"'{location.bucket}' is not one of yours")


def create_training_job(caller, request: dict) -> dict:
    job = api_job_create(user=caller.user, region=caller.region, request=request)
    return {"TrainingJobArn": arns.training_job_arn(caller.user, caller.region, job.name)}


def api_job_check(*, user, region: str, request: dict, check_data: bool = True) -> tuple[dict[str, str], str]:
    """What CreateTrainingJob checks of a request besides its name: (the validated hyperparameters, the mode).
    ``check_data``: the channels' objects and the output bucket too (a tuning job checks them once)."""
    require(request, "RoleArn", "OutputDataConfig", "AlgorithmSpecification", "ResourceConfig", "StoppingCondition")
    _image(request)
    _resources(request)
    hyperparameters, mode = _hyperparameters(request, channels.channels_parse(request.get("InputDataConfig")))
    if check_data:
        _check_data(request, user=user, region=region)
    return hyperparameters, mode


def _check_data(request: dict, *, user, region: str) -> None:
    """The channels' objects exist and every bucket named is the caller's: after the cheaper checks."""
    parsed = channels.channels_parse(request.get("InputDataConfig"))
    channels.channels_check_data(parsed, user=user, role_arn=request["RoleArn"], region=region)
    _output(request, user=user)


def api_job_create(*, user, region: str, request: dict, kept_request: dict | None = None) -> TrainingJob:
    """A training job from a CreateTrainingJob request (a tuning job's trial too), queued once committed.
    ``kept_request``: what DescribeTrainingJob echoes, if not ``request`` itself."""
    from webapp.training.tasks import train_job

    name = _name(request)
    arn = arns.training_job_arn(user, region, name)
    hyperparameters, mode = api_job_check(user=user, region=region, request=request, check_data=False)
    if TrainingJob.objects.filter(owner=user, name__iexact=name).exists():
        raise _exists(arn)
    _check_data(request, user=user, region=region)
    now = time.time()
    try:
        with transaction.atomic():
            job = TrainingJob.objects.create(owner=user, name=name, version=None, mode=mode,
                                             hyperparameters=hyperparameters)
            ApiJob.objects.create(job=job, request=kept_request or request, region=region, transitions=[
                {"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}])
            _tag(job, request.get("Tags") or [])
            transaction.on_commit(partial(train_job.delay, job.id))
    except IntegrityError:  # the same name created at the same moment
        raise _exists(arn) from None
    return job


def _tag(job: TrainingJob, tags: list[dict]) -> None:
    for tag in tags:
        Tag.objects.update_or_create(job=job, key=tag["Key"], defaults={"value": tag.get("Value", "")})


def _exists(arn: str) -> AwsError:
    return AwsError(400, "ResourceInUse", f"Training job names must be unique within an AWS account and region, and a "
                                          f"training job with this name already exists ({arn})")


def describe_training_job(caller, request: dict) -> dict:
    from webapp.sagemaker.describe import description

    # DescribeTrainingJob's own words on AWS (a ValidationException, not ResourceNotFound: aws/aws-sdk#165).
    return description(job_of(caller.user, _name(request), missing="Requested resource not found."),
                       region=caller.region)


def stop_training_job(caller, request: dict) -> dict:
    from webapp.core.errors import ServiceError
    from webapp.training.services import job_cancel

    job = job_of(caller.user, _name(request))
    if job.finished_state or job.cancel_requested:
        from webapp.sagemaker.describe import training_job_status

        raise invalid(f"The request was rejected because the training job is in status {training_job_status(job)}.")
    try:
        job_cancel(job=job)
    except ServiceError as error:
        raise invalid(str(error)) from None
    return {}


def list_training_jobs(caller, request: dict) -> dict:
    from webapp.sagemaker.describe import summary, training_job_status
    from webapp.sagemaker.listing import listed, with_token

    page, token = listed(TrainingJob.objects.filter(owner=caller.user).exclude(name="").select_related("sagemaker"),
                         request, status_of=training_job_status)
    # Only the page asked for is summarised.
    return with_token({"TrainingJobSummaries": [summary(job, region=caller.region) for job in page]}, token)


def _job_by_arn(caller, arn: str) -> TrainingJob:
    name = arns.training_job_name_of(arn, caller.user)
    if name is None:
        raise invalid(f"Resource {arn} is not a training job of this account: tags are kept for training jobs")
    return job_of(caller.user, name)


def add_tags(caller, request: dict) -> dict:
    require(request, "ResourceArn", "Tags")
    job = _job_by_arn(caller, request["ResourceArn"])
    _tag(job, request["Tags"])
    return {"Tags": request["Tags"]}


def list_tags(caller, request: dict) -> dict:
    require(request, "ResourceArn")
    job = _job_by_arn(caller, request["ResourceArn"])
    return {"Tags": [{"Key": tag.key, "Value": tag.value} for tag in job.tags.all()]}


OPERATIONS = {
    "CreateTrainingJob": create_training_job,
    "DescribeTrainingJob": describe_training_job,
    "ListTrainingJobs": list_training_jobs,
    "StopTrainingJob": stop_training_job,
    "AddTags": add_tags,
    "ListTags": list_tags,
}
