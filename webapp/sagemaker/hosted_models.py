"""SageMaker's model operations: CreateModel, DescribeModel, ListModels, DeleteModel. A SageMaker model is an IC
Studio model (webapp.registry), so every model the browser shows is one the API lists and the other way round.

CreateModel takes a ``model.tar.gz`` of this algorithm from one of the caller's buckets. When it is the artifact
one of the caller's own training jobs wrote, the job's model (registered when the job ended) is that model, given
the requested name, rather than a second copy; any other artifact is imported as an upload is: its layout
checked at once, its weights loaded by a worker. A user sees only their own models: another user's is missing,
in AWS's words."""
from __future__ import annotations

import botocore.exceptions
from django.conf import settings
from django.db import IntegrityError, transaction

from webapp.aws.errors import AwsError
from webapp.core import media, object_store
from webapp.core.errors import ServiceError
from webapp.registry.models import RegisteredModel
from webapp.sagemaker import arns, channels
from webapp.sagemaker.channels import invalid
from webapp.sagemaker.describe import DEFAULT_IMAGE
from webapp.sagemaker.listing import listed, with_token
from webapp.sagemaker.models import ApiJob, ApiModel
from webapp.sagemaker.training_jobs import IMAGE, job_name

NOT_SUPPORTED = {
    "MultiModel": "multi-model endpoints are not supported: each IC Studio model is served under its own name, and "
                  "serving workers already keep many models loaded at once (least recently used evicted first)",
}


def model_of(caller, name: str) -> RegisteredModel:
    model = (RegisteredModel.objects.filter(owner=caller.user, name__iexact=name)
             .select_related("sagemaker", "job__sagemaker").first())
    if model is None:
        raise invalid(f'Could not find model "{arns.model_arn(caller.user, caller.region, name)}".')
    return model


def _container(request: dict) -> dict:
    container = request.get("PrimaryContainer") or next(iter(request.get("Containers") or []), None)
    if not container:
        raise invalid("1 validation error detected: Value null at 'primaryContainer' failed to satisfy constraint: "
                      "Member must not be null")
    if len(request.get("Containers") or []) > 1:
        raise invalid("Inference pipelines (several Containers) are not supported: give one PrimaryContainer")
    image = container.get("Image") or ""
    if not IMAGE.match(image):
        raise invalid(f"Image {image or '(none)'} is not supported: IC Studio serves SageMaker's built-in "
                      "image-classification algorithm only (the image sagemaker.image_uris.retrieve("
                      "\"image-classification\", region) names, in any region)")
    mode = container.get("Mode", "SingleModel")
    if mode != "SingleModel":
        raise invalid(f"Mode {mode}: {NOT_SUPPORTED.get(mode, 'only SingleModel is supported')}")
    if not container.get("ModelDataUrl"):
        raise invalid("PrimaryContainer.ModelDataUrl is required: the s3:// URL of a model.tar.gz this algorithm "
                      "wrote (a training job's ModelArtifacts.S3ModelArtifacts)")
    return container


def _no_access(url: str, region: str) -> AwsError:
    # AWS's words for model data its role cannot read (the SDK shows them as they come).
    return invalid(f"Could not access model data at {url}. Please ensure that the role exists and that its trust "
                   "relationship policy allows the action 'sts:AssumeRole' for the service principal "
                   "'sagemaker.amazonaws.com'. Also ensure that the role has 's3:GetObject' permissions and that the "
                   f"object is located in {region}.")


def _adoptable(user, url: str) -> RegisteredModel | None:
    """The model one of the user's own jobs made with this artifact, unless CreateModel has named it already."""
    api = ApiJob.objects.filter(job__owner=user, model_artifacts=url).select_related("job").first()
    model = RegisteredModel.objects.filter(job_id=api.job_id).first() if api else None
    if model is None or ApiModel.objects.filter(model=model).exists():
        return None
    return model


def _fetched(user, name: str, url: str, region: str) -> RegisteredModel:
    from webapp.s3.selectors import bucket_of

    location = channels.s3_location(url, "PrimaryContainer.ModelDataUrl")
    if bucket_of(user=user, name=location.bucket) is None:
        raise _no_access(url, region)
    relative = media.new_model_relative(user.id)
    try:
        head = object_store.client().head_object(Bucket=location.bucket, Key=location.key)
        if head.get("ContentLength", 0) > settings.MODEL_MAX_UNPACKED_BYTES:
            raise invalid(f"{url} is {head['ContentLength']} bytes; a model may be at most "
                          f"{settings.MODEL_MAX_UNPACKED_BYTES >> 20} MB")
        object_store.download_file(location.bucket, location.key, media.absolute(relative))
    except botocore.exceptions.ClientError as error:
        if object_store.is_missing(error):
            raise invalid(f"Could not find model data at {url}.") from None
        raise
    from webapp.registry.services import model_import_stored

    try:
        return model_import_stored(owner=user, name=name, relative=relative, shown_as=url)
    except ServiceError as error:
        if error.field == "name":
            raise
        raise invalid(f"The model data at {url} is not a model of this algorithm: {error}") from None


def create_model(caller, request: dict) -> dict:
    from webapp.registry.services import model_update

    user, region = caller.user, caller.region
    name = job_name(request, "ModelName")
    arn = arns.model_arn(user, region, name)
    container = _container(request)
    if RegisteredModel.objects.filter(owner=user, name__iexact=name).exists():
        raise invalid(f'Cannot create already existing model "{arn}".')
    url = container["ModelDataUrl"]
    try:
        with transaction.atomic():
            model = _adoptable(user, url)
            if model is not None:
                model_update(model=model, name=name)
            else:
                model = _fetched(user, name, url, region)
            ApiModel.objects.create(model=model, request=request, region=region)
    except (IntegrityError, ServiceError):  # the same name taken at the same moment
        raise invalid(f'Cannot create already existing model "{arn}".') from None
    return {"ModelArn": arn}


def _model_data_url(model: RegisteredModel) -> str:
    api = getattr(model.job, "sagemaker", None) if model.job_id else None
    return api.model_artifacts if api else ""


def description(model: RegisteredModel, *, region: str) -> dict:
    """DescribeModel's answer: the request as sent, or what a browser-made model would have been created with."""
    api = getattr(model, "sagemaker", None)
    request = api.request if api else {}
    region = api.region if api else region
    container = {"Image": DEFAULT_IMAGE.replace("us-east-1", region), "Mode": "SingleModel",
                 "ModelDataUrl": _model_data_url(model), "Environment": {}}
    container.update(request.get("PrimaryContainer") or next(iter(request.get("Containers") or []), {}))
    answer = {
        "ModelName": model.name,
        "ModelArn": arns.model_arn(model.owner, region, model.name),
        "PrimaryContainer": container,
        "ExecutionRoleArn": request.get("ExecutionRoleArn") or f"arn:aws:iam::{arns.account_id(model.owner)}:role/ic-studio",
        "CreationTime": model.created.timestamp(),
        "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
    }
    for name in ("VpcConfig", "InferenceExecutionConfig"):
        if request.get(name):
            answer[name] = request[name]
    return answer


def describe_model(caller, request: dict) -> dict:
    return description(model_of(caller, job_name(request, "ModelName")), region=caller.region)


def list_models(caller, request: dict) -> dict:
    page, token = listed(RegisteredModel.objects.filter(owner=caller.user).select_related("sagemaker", "owner"),
                         request)
    return with_token({"Models": [{
        "ModelName": model.name,
        "ModelArn": arns.model_arn(model.owner, model.sagemaker.region if hasattr(model, "sagemaker") else caller.region,
                                   model.name),
        "CreationTime": model.created.timestamp()} for model in page]}, token)


def delete_model(caller, request: dict) -> dict:
    """The model and its file go, as the browser's delete does; endpoints serving it keep their own link."""
    from webapp.registry.services import model_delete

    model = model_of(caller, job_name(request, "ModelName"))
    try:
        model_delete(model=model)
    except ServiceError as error:
        raise invalid(f"Cannot delete model {model.name}: {error}") from None
    return {}


OPERATIONS = {
    "CreateModel": create_model,
    "DescribeModel": describe_model,
    "ListModels": list_models,
    "DeleteModel": delete_model,
}
