"""SageMaker's control plane beyond the happy path: stopping, MaxRuntimeInSeconds, bad channels, and the
dispatcher's refusals in shapes botocore parses."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.sagemaker_data import seed_bucket, training_params, upload, user_s3, write_rec
from tests.support.aws import access_key

pytestmark = pytest.mark.django_db(transaction=True)


def _waiter(client, name):
    from botocore.exceptions import WaiterError

    try:  # the notebook's try/finally: a Failed job ends the waiter with WaiterError
        client.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    except WaiterError:
        pass
    return client.describe_training_job(TrainingJobName=name)


def _data(user, tmp_path, bucket="alice-data", *, train=48, label_width=1):
    bucket = seed_bucket(user, bucket)
    s3 = user_s3()
    upload(s3, bucket, "ic-fulltraining/train/train.rec", write_rec(tmp_path / "train.rec", train, seed=1,
                                                                     label_width=label_width))
    upload(s3, bucket, "ic-fulltraining/validation/val.rec", write_rec(tmp_path / "val.rec", 24, seed=2))
    return bucket


def _until(client, name, status, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        info = client.describe_training_job(TrainingJobName=name)
        if info["SecondaryStatus"] == status:
            return info
        time.sleep(0.2)
    raise AssertionError(f"{name} never reached {status}: {info['SecondaryStatus']}")


def test_stop_training_job_ends_stopped_within_a_batch(as_user, alice, worker, tmp_path):
    as_user(alice)
    bucket = _data(alice, tmp_path, train=96)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_training_job(**training_params("stop-me", bucket, hyperparameters={
        "epochs": "50", "num_training_samples": "96"}))
    _until(sagemaker, "stop-me", "Training")
    sagemaker.stop_training_job(TrainingJobName="stop-me")
    assert sagemaker.describe_training_job(TrainingJobName="stop-me")["TrainingJobStatus"] in ("Stopping", "Stopped")
    info = _waiter(sagemaker, "stop-me")
    assert (info["TrainingJobStatus"], info["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert info["SecondaryStatusTransitions"][-1]["Status"] == "Stopped"
    with pytest.raises(sagemaker.exceptions.ClientError, match="status Stopped"):
        sagemaker.stop_training_job(TrainingJobName="stop-me")


def test_max_runtime_stops_the_job(as_user, alice, worker, tmp_path):
    as_user(alice)
    bucket = _data(alice, tmp_path, train=96)
    sagemaker = boto3.client("sagemaker")
    params = training_params("too-long", bucket, hyperparameters={"epochs": "50", "num_training_samples": "96"})
    params["StoppingCondition"] = {"MaxRuntimeInSeconds": 4}
    sagemaker.create_training_job(**params)
    info = _waiter(sagemaker, "too-long")
    assert (info["TrainingJobStatus"], info["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_bad_channels_fail_at_create_or_with_a_failure_reason(as_user, alice, bob, worker, tmp_path):
    as_user(alice)
    bucket = _data(alice, tmp_path, label_width=3)
    sagemaker = boto3.client("sagemaker")
    empty = training_params("empty-prefix", bucket)
    empty["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{bucket}/nothing-here/"
    with pytest.raises(sagemaker.exceptions.ClientError) as refused:
        sagemaker.create_training_job(**empty)
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(f'No S3 objects found under S3 URL "s3://{bucket}/nothing-here/"')

    csv = training_params("csv-data", bucket)
    csv["InputDataConfig"][0]["ContentType"] = "text/csv"
    with pytest.raises(sagemaker.exceptions.ClientError, match="content type text/csv is not supported"):
        sagemaker.create_training_job(**csv)

    other_algorithm = training_params("xgboost", bucket)
    other_algorithm["AlgorithmSpecification"]["TrainingImage"] = \
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    with pytest.raises(sagemaker.exceptions.ClientError, match="image-classification algorithm only"):
        sagemaker.create_training_job(**other_algorithm)
    two = training_params("two-machines", bucket)
    two["ResourceConfig"]["InstanceCount"] = 2
    with pytest.raises(sagemaker.exceptions.ClientError, match="InstanceCount 2 is not supported"):
        sagemaker.create_training_job(**two)
    bad_hp = training_params("bad-hp", bucket, hyperparameters={"num_layers": "21"})
    with pytest.raises(sagemaker.exceptions.ClientError, match="num_layers"):
        sagemaker.create_training_job(**bad_hp)

    # The train .rec holds 3 labels an image, for a single-label job: the job fails and says why.
    sagemaker.create_training_job(**training_params("wrong-width", bucket))
    info = _waiter(sagemaker, "wrong-width")
    assert info["TrainingJobStatus"] == "Failed"
    assert info["FailureReason"].startswith("ClientError: the train channel's records have a label width of 3")

    # Bob's keys reach none of Alice's data.
    as_user(bob)
    with pytest.raises(boto3.client("sagemaker").exceptions.ClientError, match="No S3 objects found"):
        boto3.client("sagemaker").create_training_job(**training_params("bobs", bucket))


def _signed(url, user, service, body: bytes, headers: dict):
    key_id, secret = access_key(user)
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(key_id, secret), service, "us-east-1").add_auth(request)
    raw = urllib.request.Request(url + "/", data=body, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_the_dispatcher_answers_errors_in_aws_shapes(as_user, alice, studio):
    as_user(alice)
    json_headers = {"Content-Type": "application/x-amz-json-1.1"}
    status, headers, body = _signed(studio, alice, "sagemaker", b"{}",
                                    {**json_headers, "X-Amz-Target": "SageMaker.CreateModelPackage"})
    assert status == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    assert headers["x-amzn-errortype"] == "UnknownOperationException"
    status, _, body = _signed(studio, alice, "sagemaker", b"{not json",
                              {**json_headers, "X-Amz-Target": "SageMaker.DescribeTrainingJob"})
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    status, _, body = _signed(studio, alice, "sagemaker", b"{}",
                              {**json_headers, "X-Amz-Target": "SageMaker.DescribeTrainingJob"})
    assert status == 400 and json.loads(body) == {
        "__type": "ValidationException", "message": "1 validation error detected: Value null at 'trainingJobName' "
                                                    "failed to satisfy constraint: Member must not be null"}

    sagemaker = boto3.client("sagemaker")
    with pytest.raises(sagemaker.exceptions.ClientError) as missing:
        sagemaker.describe_training_job(TrainingJobName="no-such-job")
    assert missing.value.response["Error"] == {"Code": "ValidationException", "Message": "Requested resource not found."}

    identity = boto3.client("sts").get_caller_identity()
    assert identity["Account"] == f"{alice.id:012d}" and identity["Arn"].endswith(":user/alice")

    # A wrong secret, in SageMaker's shape.
    wrong = boto3.client("sagemaker", aws_access_key_id=access_key(alice)[0], aws_secret_access_key="not-the-secret")
    with pytest.raises(wrong.exceptions.ClientError) as refused:
        wrong.list_training_jobs()
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = boto3.client("sagemaker", aws_access_key_id="AKIANOSUCHKEY0000000", aws_secret_access_key="x")
    with pytest.raises(unknown.exceptions.ClientError) as refused:
        unknown.list_training_jobs()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"

    # The home page is still the home page.
    with urllib.request.urlopen(studio + "/", timeout=10) as page:
        assert "/signin/" in page.url
