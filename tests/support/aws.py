"""AWS-style credentials for tests: an access key for a user, as the account page makes one, and boto3
clients signing with it against the web app."""
from __future__ import annotations


def access_key(user) -> tuple[str, str]:
    """``(access key id, secret access key)`` for ``user`` (one per user object, as ``api_key``)."""
    from webapp.accounts.services import access_key_create

    if not hasattr(user, "_test_access_key"):
        key, secret = access_key_create(user=user, name="tests")
        user._test_access_key = (key.access_key_id, secret)
    return user._test_access_key


def aws_environment(user, url: str, region: str = "us-east-1") -> dict[str, str]:
    """What the account page tells a user to export."""
    key_id, secret = access_key(user)
    return {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": url}


def runtime(url: str, key_id: str, secret: str, **config):
    """boto3's sagemaker-runtime client for the web app at ``url``, signing with this key."""
    import boto3
    from botocore.config import Config

    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret, config=Config(**config))


def user_runtime(url: str, user, **config):
    return runtime(url, *access_key(user), **config)


def configure_by_environment(monkeypatch, user, url: str) -> None:
    """boto3 set up for ``user`` at ``url`` by environment variables alone, as the account page tells a user:
    no config or credentials file, no profile, no per-service endpoint; the next client reads it afresh."""
    import os

    import boto3

    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_environment(user, url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
