"""SageMaker's endpoint operations: endpoint configurations (Create/Describe/Delete/ListEndpointConfigs) and
endpoints (Create/Describe/List/Update/DeleteEndpoint). An endpoint is a name the serving workers answer on
(``invoke_endpoint``, webapp/registry/invocation_views.py); its status follows the workers (endpoint_states.py).
A user sees only their own: another user's is missing, in AWS's words."""
from __future__ import annotations

from django.db import IntegrityError, transaction

from webapp.registry.models import RegisteredModel
from webapp.sagemaker import arns, endpoint_states
from webapp.sagemaker.channels import invalid
from webapp.sagemaker.describe import DEFAULT_IMAGE
from webapp.sagemaker.listing import listed, with_token
from webapp.sagemaker.models import Endpoint, EndpointConfig
from webapp.sagemaker.training_jobs import job_name, require

# What SageMaker's hosting has and IC Studio does not, each with why (README "Run SageMaker's notebooks here").
NOT_SUPPORTED = {
    "ServerlessConfig": "serverless endpoints are not supported: IC Studio's serving workers are always running, "
                        "so give InitialInstanceCount and InstanceType instead",
    "AcceleratorType": "Elastic Inference accelerators are not supported (AWS retired Elastic Inference in 2024); "
                       "a GPU serving worker serves a model on its GPU",
}


def _config_missing(caller, name: str):
    return invalid(f'Could not find endpoint configuration "{arns.endpoint_config_arn(caller.user, caller.region, name)}".')


def _endpoint_missing(caller, name: str):
    return invalid(f'Could not find endpoint "{arns.endpoint_arn(caller.user, caller.region, name)}".')


def config_of(caller, name: str) -> EndpointConfig:
    config = EndpointConfig.objects.filter(owner=caller.user, name__iexact=name).first()
    if config is None:
        raise _config_missing(caller, name)
    return config


def endpoint_of(caller, name: str) -> Endpoint:
    endpoint = Endpoint.objects.filter(owner=caller.user, name__iexact=name).first()
    if endpoint is None:
        raise _endpoint_missing(caller, name)
    return endpoint


def _variant(caller, given: dict, index: int) -> dict:
    for member in ("VariantName", "ModelName"):
        if not given.get(member):
            raise invalid(f"1 validation error detected: Value null at 'productionVariants.{index + 1}.member."
                          f"{member[0].lower()}{member[1:]}' failed to satisfy constraint: Member must not be null")
    for member, why in NOT_SUPPORTED.items():
        if given.get(member):
            raise invalid(f"ProductionVariants[{index}].{member}: {why}")
    count = given.get("InitialInstanceCount", 1)
    if not isinstance(count, int) or count < 1:
        raise invalid(f"ProductionVariants[{index}].InitialInstanceCount must be a whole number of at least 1, "
                      f"not {count!r}")
    weight = float(given.get("InitialVariantWeight", 1.0))
    if weight < 0:
        raise invalid(f"ProductionVariants[{index}].InitialVariantWeight must not be negative")
    if not RegisteredModel.objects.filter(owner=caller.user, name__iexact=given["ModelName"]).exists():
        raise invalid(f'Could not find model "{arns.model_arn(caller.user, caller.region, given["ModelName"])}".')
    return {"InstanceType": "ml.m5.large", **given, "InitialInstanceCount": count, "InitialVariantWeight": weight}


def create_endpoint_config(caller, request: dict) -> dict:
    name = job_name(request, "EndpointConfigName")
    require(request, "ProductionVariants")
    arn = arns.endpoint_config_arn(caller.user, caller.region, name)
    if EndpointConfig.objects.filter(owner=caller.user, name__iexact=name).exists():
        raise invalid(f'Cannot create already existing endpoint configuration "{arn}".')
    given = request["ProductionVariants"]
    if len({variant.get("VariantName") for variant in given}) != len(given):
        raise invalid("Each production variant of an endpoint configuration needs a name of its own")
    variants = [_variant(caller, variant, index) for index, variant in enumerate(given)]
    try:
        EndpointConfig.objects.create(owner=caller.user, name=name, variants=variants, request=request,
                                      region=caller.region)
    except IntegrityError:
        raise invalid(f'Cannot create already existing endpoint configuration "{arn}".') from None
    return {"EndpointConfigArn": arn}


def describe_endpoint_config(caller, request: dict) -> dict:
    config = config_of(caller, job_name(request, "EndpointConfigName"))
    answer = {"EndpointConfigName": config.name,
              "EndpointConfigArn": arns.endpoint_config_arn(caller.user, config.region, config.name),
              "ProductionVariants": config.variants, "CreationTime": config.created.timestamp()}
    for name in ("DataCaptureConfig", "KmsKeyId", "AsyncInferenceConfig", "ExplainerConfig", "Tags"):
        if config.request.get(name):
            answer[name] = config.request[name]
    return answer


def delete_endpoint_config(caller, request: dict) -> dict:
    """As on AWS, an endpoint using the config keeps serving: it holds what the config named."""
    config_of(caller, job_name(request, "EndpointConfigName")).delete()
    return {}


def list_endpoint_configs(caller, request: dict) -> dict:
    page, token = listed(EndpointConfig.objects.filter(owner=caller.user), request)
    return with_token({"EndpointConfigs": [{
        "EndpointConfigName": config.name, "CreationTime": config.created.timestamp(),
        "EndpointConfigArn": arns.endpoint_config_arn(caller.user, config.region, config.name)} for config in page]},
        token)


def _resolved(caller, endpoint: Endpoint, config: EndpointConfig) -> list[dict]:
    """The config's variants with the models they name now, each linked for the endpoint (it keeps serving a
    model deleted later, as an AWS endpoint does)."""
    variants = []
    for variant in config.variants:
        model = RegisteredModel.objects.filter(owner=caller.user, name__iexact=variant["ModelName"]).first()
        if model is None:
            raise invalid(f'Could not find model "{arns.model_arn(caller.user, caller.region, variant["ModelName"])}".')
        if model.state == RegisteredModel.State.INVALID:
            raise invalid(f"Model {model.name} cannot be served: {model.reason}")
        variants.append({**variant, "model": model.id, "artifact": endpoint_states.link_model(endpoint, model)})
    return variants


def create_endpoint(caller, request: dict) -> dict:
    name = job_name(request, "EndpointName")
    require(request, "EndpointConfigName")
    arn = arns.endpoint_arn(caller.user, caller.region, name)
    if Endpoint.objects.filter(owner=caller.user, name__iexact=name).exists():
        raise invalid(f'Cannot create already existing endpoint "{arn}".')
    config = config_of(caller, request["EndpointConfigName"])
    try:
        with transaction.atomic():
            endpoint = Endpoint.objects.create(owner=caller.user, name=name, config_name=config.name, request=request,
                                               region=caller.region)
            endpoint.variants = _resolved(caller, endpoint, config)
            endpoint.save(update_fields=["variants"])
            endpoint_states.failures_forget(endpoint.variants)
            endpoint_states.after_change()
    except IntegrityError:
        raise invalid(f'Cannot create already existing endpoint "{arn}".') from None
    return {"EndpointArn": arn}


def _production_variants(endpoint: Endpoint, variants: list[dict], held: dict[str, int]) -> list[dict]:
    return [{"VariantName": variant["VariantName"],
             "DeployedImages": [{"SpecifiedImage": DEFAULT_IMAGE.replace("us-east-1", endpoint.region),
                                 "ResolvedImage": DEFAULT_IMAGE.replace("us-east-1", endpoint.region),
                                 "ResolutionTime": endpoint.created.timestamp()}],
             "CurrentWeight": variant.get("InitialVariantWeight", 1.0),
             "DesiredWeight": variant.get("InitialVariantWeight", 1.0),
             "CurrentInstanceCount": endpoint_states.current_instances(endpoint, variant, held),
             "DesiredInstanceCount": variant.get("InitialInstanceCount", 1)} for variant in variants]


def describe_endpoint(caller, request: dict) -> dict:
    endpoint = endpoint_states.refresh(endpoint_of(caller, job_name(request, "EndpointName")))
    try:
        held = endpoint_states.holders()
    except Exception:  # Redis away: instance counts are unknown, the rest is still true
        held = {}
    answer = {"EndpointName": endpoint.name,
              "EndpointArn": arns.endpoint_arn(caller.user, endpoint.region, endpoint.name),
              "EndpointConfigName": endpoint.config_name,
              "ProductionVariants": _production_variants(endpoint, endpoint.variants, held),
              "EndpointStatus": endpoint.status,
              "CreationTime": endpoint.created.timestamp(),
              "LastModifiedTime": endpoint.last_modified.timestamp()}
    if endpoint.failure_reason:
        answer["FailureReason"] = endpoint.failure_reason
    if endpoint.status == Endpoint.Status.UPDATING:
        answer["PendingDeploymentSummary"] = {
            "EndpointConfigName": endpoint.pending_config_name,
            "ProductionVariants": [{"VariantName": variant["VariantName"], "VariantStatus": [
                {"Status": "Creating", "StartTime": endpoint.last_modified.timestamp()}]}
                for variant in endpoint.pending_variants]}
    return answer


def list_endpoints(caller, request: dict) -> dict:
    page, token = listed(Endpoint.objects.filter(owner=caller.user), request,
                         status_of=lambda row: endpoint_states.refresh(row).status)
    page = [endpoint_states.refresh(row) for row in page]
    return with_token({"Endpoints": [{
        "EndpointName": row.name, "EndpointArn": arns.endpoint_arn(caller.user, row.region, row.name),
        "CreationTime": row.created.timestamp(), "LastModifiedTime": row.last_modified.timestamp(),
        "EndpointStatus": row.status} for row in page]}, token)


def update_endpoint(caller, request: dict) -> dict:
    """The new config's models are warmed while the old ones keep answering; refresh swaps them once warm."""
    name = job_name(request, "EndpointName")
    require(request, "EndpointConfigName")
    endpoint = endpoint_states.refresh(endpoint_of(caller, name))
    config = config_of(caller, request["EndpointConfigName"])
    arn = arns.endpoint_arn(caller.user, caller.region, endpoint.name)
    with transaction.atomic():
        row = Endpoint.objects.select_for_update().get(id=endpoint.id)
        if row.status != Endpoint.Status.IN_SERVICE:
            raise invalid(f'Cannot update in-progress endpoint "{arn}".' if row.status in (
                Endpoint.Status.CREATING, Endpoint.Status.UPDATING) else
                f'Cannot update endpoint "{arn}": it is {row.status}; delete it and create it again.')
        row.pending_variants = _resolved(caller, row, config)
        row.pending_config_name, row.status, row.failure_reason = config.name, Endpoint.Status.UPDATING, ""
        row.save()
        endpoint_states.failures_forget(row.pending_variants)
        endpoint_states.after_change()
    return {"EndpointArn": arn}


def delete_endpoint(caller, request: dict) -> dict:
    endpoint = endpoint_of(caller, job_name(request, "EndpointName"))
    with transaction.atomic():
        endpoint.delete()
        endpoint_states.after_change()
    endpoint_states.unlink_all(endpoint)
    return {}


OPERATIONS = {
    "CreateEndpointConfig": create_endpoint_config,
    "DescribeEndpointConfig": describe_endpoint_config,
    "DeleteEndpointConfig": delete_endpoint_config,
    "ListEndpointConfigs": list_endpoint_configs,
    "CreateEndpoint": create_endpoint,
    "DescribeEndpoint": describe_endpoint,
    "ListEndpoints": list_endpoints,
    "UpdateEndpoint": update_endpoint,
    "DeleteEndpoint": delete_endpoint,
}
