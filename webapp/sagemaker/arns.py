"""Account ids and ARNs: each user is an AWS account of their own, numbered from their user id."""
from __future__ import annotations

import re

_TRAINING_JOB_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:(\d{12}):training-job/(.+)$")


def account_id(user) -> str:
    return f"{user.id:012d}"


def _arn(user, region: str, kind: str, name: str) -> str:
    # SageMaker lower-cases the name in the ARN, as it does on AWS.
    return f"arn:aws:sagemaker:{region}:{account_id(user)}:{kind}/{name.lower()}"


def training_job_arn(user, region: str, name: str) -> str:
    return _arn(user, region, "training-job", name)


def model_arn(user, region: str, name: str) -> str:
    return _arn(user, region, "model", name)


def endpoint_config_arn(user, region: str, name: str) -> str:
    return _arn(user, region, "endpoint-config", name)


def endpoint_arn(user, region: str, name: str) -> str:
    return _arn(user, region, "endpoint", name)


def tuning_job_arn(user, region: str, name: str) -> str:
    return _arn(user, region, "hyper-parameter-tuning-job", name)


def transform_job_arn(user, region: str, name: str) -> str:
    return _arn(user, region, "transform-job", name)


def training_job_name_of(arn: str, user) -> str | None:
    """The job name an ARN of this user's account names, else None."""
    match = _TRAINING_JOB_ARN.match(arn or "")
    if not match or match.group(1) != account_id(user):
        return None
    return match.group(2)
