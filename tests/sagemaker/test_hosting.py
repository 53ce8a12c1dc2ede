"""SageMaker's hosting against IC Studio, as boto3 drives it configured by environment variables alone:
CreateModel from an artifact in the user's bucket, endpoint configs, an endpoint awaited with AWS's waiter and
answered by a real serving worker, UpdateEndpoint under 8 clients with no failed request, DeleteModel while an
endpoint serves the model, the errors in AWS's words, and a model that cannot load ending the endpoint Failed."""
from __future__ import annotations

import io
import json
import tarfile
import threading
import time

import boto3
import numpy as np
import pytest

from tests.support.images import colour_jpeg
from tests.support.sagemaker_data import IMAGE_URI, ROLE, seed_bucket, upload, user_s3

pytestmark = pytest.mark.django_db(transaction=True)


def _config(sage, name: str, model: str, variant: str = "AllTraffic") -> None:
    sage.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "InstanceType": "ml.m4.xlarge", "InitialInstanceCount": 1, "ModelName": model, "VariantName": variant}])


def _model(sage, name: str, url: str) -> None:
    sage.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE_URI, "ModelDataUrl": url})


def _in_service(sage, name: str, config: str | None = None) -> dict:
    deadline = time.monotonic() + 120
    while True:
        endpoint = sage.describe_endpoint(EndpointName=name)
        if endpoint["EndpointStatus"] == "InService" and config in (None, endpoint["EndpointConfigName"]):
            return endpoint
        assert endpoint["EndpointStatus"] in ("Creating", "Updating", "InService"), endpoint
        assert time.monotonic() < deadline, endpoint
        time.sleep(0.5)


def test_an_endpoint_serves_switches_under_load_and_outlives_its_model(as_user, alice, bob, worker, serving_worker,
                                                                        colour_artifact, client):
    from classifier.inference import Predictor

    as_user(alice)
    bucket = seed_bucket(alice, "alice-hosting")
    s3 = user_s3()
    upload(s3, bucket, "models/a/model.tar.gz", colour_artifact)
    upload(s3, bucket, "models/b/model.tar.gz", colour_artifact)
    sage = boto3.client("sagemaker")

    _model(sage, "colours-a", f"s3://{bucket}/models/a/model.tar.gz")
    described = sage.describe_model(ModelName="colours-a")
    assert described["PrimaryContainer"]["ModelDataUrl"] == f"s3://{bucket}/models/a/model.tar.gz"
    assert described["ModelArn"].endswith(":model/colours-a")
    with pytest.raises(sage.exceptions.ClientError, match="Cannot create already existing model"):
        _model(sage, "colours-a", f"s3://{bucket}/models/a/model.tar.gz")
    with pytest.raises(sage.exceptions.ClientError, match="Could not find model data"):
        _model(sage, "colours-missing", f"s3://{bucket}/models/none/model.tar.gz")
    _config(sage, "config-a", "colours-a", "VariantA")
    with pytest.raises(sage.exceptions.ClientError, match="Cannot create already existing endpoint configuration"):
        _config(sage, "config-a", "colours-a")
    with pytest.raises(sage.exceptions.ClientError, match="Could not find model"):
        _config(sage, "config-none", "no-such-model")

    sage.create_endpoint(EndpointName="colours", EndpointConfigName="config-a")
    sage.get_waiter("endpoint_in_service").wait(EndpointName="colours", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    endpoint = sage.describe_endpoint(EndpointName="colours")
    assert endpoint["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert "colours" in {e["EndpointName"] for e in sage.list_endpoints()["Endpoints"]}

    runtime = boto3.client("sagemaker-runtime")
    image = colour_jpeg(2, seed=31)
    answer = runtime.invoke_endpoint(EndpointName="colours", ContentType="application/x-image", Body=image)
    assert answer["InvokedProductionVariant"] == "VariantA"
    np.testing.assert_allclose(json.loads(answer["Body"].read()), Predictor(colour_artifact).predict([image])[0],
                               rtol=1e-4, atol=1e-5)

    # Another user sees none of it, nor reads the bucket's model.
    as_user(bob)
    other = boto3.client("sagemaker")
    with pytest.raises(other.exceptions.ClientError, match="Could not find endpoint"):
        other.describe_endpoint(EndpointName="colours")
    with pytest.raises(other.exceptions.ClientError, match="Could not access model data"):
        _model(other, "stolen", f"s3://{bucket}/models/a/model.tar.gz")
    with pytest.raises(other.exceptions.ClientError, match="no model or endpoint named"):
        boto3.client("sagemaker-runtime").invoke_endpoint(EndpointName="colours", ContentType="application/x-image",
                                                          Body=image)
    as_user(alice)

    # UpdateEndpoint while 8 clients keep invoking: not one request fails, and the new variant takes over.
    _model(sage, "colours-b", f"s3://{bucket}/models/b/model.tar.gz")
    _config(sage, "config-b", "colours-b", "VariantB")
    clients = [boto3.client("sagemaker-runtime") for _ in range(8)]
    stop, failures, seen = threading.Event(), [], []

    def invoke(runtime_client):
        while not stop.is_set():
            try:
                reply = runtime_client.invoke_endpoint(EndpointName="colours", ContentType="application/x-image",
                                                       Body=image)
                json.loads(reply["Body"].read())
                seen.append(reply["InvokedProductionVariant"])
            except Exception as error:  # any failure at all is what the test is about
                failures.append(repr(error))

    threads = [threading.Thread(target=invoke, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        sage.update_endpoint(EndpointName="colours", EndpointConfigName="config-b")
        assert sage.describe_endpoint(EndpointName="colours")["EndpointStatus"] in ("Updating", "InService")
        _in_service(sage, "colours", "config-b")
        switched_at = len(seen)
        deadline = time.monotonic() + 30
        while len(seen) < switched_at + 16 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []
    assert "VariantA" in seen and seen[-8:] == ["VariantB"] * 8, seen[-20:]

    # The model page lists the endpoint serving it.
    from webapp.registry.models import RegisteredModel

    client.force_login(alice)
    page = client.get(f"/models/{RegisteredModel.objects.get(owner=alice, name='colours-b').id}/").content.decode()
    assert "colours" in page and "InService" in page

    # DeleteModel while the endpoint serves it (the SDK's delete_model() comes before delete_endpoint()).
    sage.delete_model(ModelName="colours-b")
    with pytest.raises(sage.exceptions.ClientError, match="Could not find model"):
        sage.describe_model(ModelName="colours-b")
    assert runtime.invoke_endpoint(EndpointName="colours", ContentType="application/x-image",
                                   Body=image)["InvokedProductionVariant"] == "VariantB"

    sage.delete_endpoint(EndpointName="colours")
    with pytest.raises(sage.exceptions.ClientError, match="Could not find endpoint"):
        sage.describe_endpoint(EndpointName="colours")
    sage.delete_endpoint_config(EndpointConfigName="config-a")
    with pytest.raises(sage.exceptions.ClientError, match="Could not find endpoint configuration"):
        sage.describe_endpoint_config(EndpointConfigName="config-a")


def _broken(artifact) -> bytes:
    """The artifact with its weights replaced by noise: its layout checks out, loading it cannot."""
    out = io.BytesIO()
    with tarfile.open(artifact) as source, tarfile.open(fileobj=out, mode="w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name.endswith(".params"):
                data = b"\x00not weights\x00" * 64
                member.size = len(data)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def test_a_model_that_cannot_load_ends_its_endpoint_failed_with_the_reason(as_user, alice, worker, serving_worker,
                                                                          colour_artifact):
    as_user(alice)
    bucket = seed_bucket(alice, "alice-broken")
    upload(user_s3(), bucket, "broken/model.tar.gz", _broken(colour_artifact))
    sage = boto3.client("sagemaker")
    _model(sage, "broken", f"s3://{bucket}/broken/model.tar.gz")
    _config(sage, "broken-config", "broken")
    try:
        sage.create_endpoint(EndpointName="broken", EndpointConfigName="broken-config")
    except sage.exceptions.ClientError as error:
        # The worker's check of the import came first: refused at create, with its reason.
        assert "cannot be served" in str(error) and "params" in str(error), error
        return
    deadline = time.monotonic() + 60
    while (endpoint := sage.describe_endpoint(EndpointName="broken"))["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline, endpoint
        time.sleep(0.5)
    assert endpoint["EndpointStatus"] == "Failed"
    assert "cannot be loaded" in endpoint["FailureReason"] and "/" + "tmp" not in endpoint["FailureReason"]
    with pytest.raises(boto3.client("sagemaker-runtime").exceptions.ClientError, match="not in service"):
        boto3.client("sagemaker-runtime").invoke_endpoint(EndpointName="broken", ContentType="application/x-image",
                                                          Body=colour_jpeg(0, seed=1))
