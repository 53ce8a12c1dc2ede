"""The environment an AWS client needs to reach this site with an access key: what a notebook pastes."""
from __future__ import annotations

from django.conf import settings


def aws_environment(request, access_key_id: str, secret: str) -> dict[str, str]:
    """boto3 (and the SageMaker SDK) read these; the endpoint is this site, as the request reached it."""
    return {
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": settings.AWS_REGION,
        "AWS_ENDPOINT_URL": f"{request.scheme}://{request.get_host()}",
    }


def export_lines(environment: dict[str, str]) -> str:
    return "\n".join(f"export {name}={value}" for name, value in environment.items())
