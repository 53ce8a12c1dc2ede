"""SageMaker's batch transform against IC Studio: the notebook's CreateTransformJob over an S3 prefix of images,
one ``<key>.out`` each read back with the library's own probabilities, a RecordIO split answered in JSON
Lines, and AWS's words for what is refused. boto3 is configured by environment variables alone; the store, the
Celery worker and MXNet are real."""
from __future__ import annotations

import json

import boto3
import numpy as np
import pytest
from rest_framework.test import APIClient

from tests.support.api import import_model
from tests.support.images import colour_jpeg
from tests.support.sagemaker_data import seed_bucket, upload, user_s3, write_rec
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _request(name: str, model: str, bucket: str, prefix: str, **input_fields) -> dict:
    return {"TransformJobName": name, "ModelName": model, "MaxConcurrentTransforms": 16, "MaxPayloadInMB": 6,
            "BatchStrategy": "SingleRecord",
            "TransformOutput": {"S3OutputPath": f"s3://{bucket}/{name}/output"},
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                               "S3Uri": f"s3://{bucket}/{prefix}"}},
                               "ContentType": "application/x-image", "SplitType": "None",
                               "CompressionType": "None", **input_fields},
            "TransformResources": {"InstanceType": "ml.p2.xlarge", "InstanceCount": 1}}


def _finished(sagemaker, name: str) -> dict:
    def ended():
        answer = sagemaker.describe_transform_job(TransformJobName=name)
        return answer if answer["TransformJobStatus"] not in ("InProgress", "Stopping") else None
    return wait_until(ended, f"transform job {name} to end", timeout=300, step=0.5)


def _model(user, artifact) -> dict:
    api = APIClient()
    api.force_authenticate(user)
    return import_model(api, artifact, name="colours")


def test_a_transform_job_writes_one_out_per_image_with_the_library_s_probabilities(
        as_user, alice, worker, colour_artifact, tmp_path):
    from classifier.inference import Predictor

    as_user(alice)
    _model(alice, colour_artifact)
    bucket = seed_bucket(alice, "alice-batch")
    s3 = user_s3()
    images = {f"test/{i}.jpg": colour_jpeg(i % 3, seed=300 + i) for i in range(3)}
    for key, body in images.items():
        upload(s3, bucket, key, body)
    sagemaker = boto3.client("sagemaker")

    sagemaker.create_transform_job(**_request("colours-batch-1", "colours", bucket, "test/"))
    answer = _finished(sagemaker, "colours-batch-1")

    assert answer["TransformJobStatus"] == "Completed", answer.get("FailureReason")
    assert answer["ModelName"] == "colours" and answer["TransformInput"]["SplitType"] == "None"
    expected = Predictor(colour_artifact).predict(list(images.values()))
    for (key, _), row in zip(images.items(), expected):
        out = json.loads(s3.get_object(Bucket=bucket, Key=f"colours-batch-1/output/{key.split('/')[1]}.out")
                         ["Body"].read())
        np.testing.assert_allclose(out["prediction"], row, rtol=1e-4, atol=1e-5)
    # The same job is the owner's IC Studio transform, with its progress.
    api = APIClient()
    api.force_authenticate(alice)
    [transform] = api.get("/api/transforms/").json()
    assert transform["state"] == "succeeded" and transform["done"] == 3 and transform["output"] is None


def test_a_recordio_split_answers_a_line_per_record(as_user, alice, worker, colour_artifact, tmp_path):
    as_user(alice)
    _model(alice, colour_artifact)
    bucket = seed_bucket(alice, "alice-batch-rec")
    s3 = user_s3()
    upload(s3, bucket, "rec/val.rec", write_rec(tmp_path / "val.rec", 5, seed=4))
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_transform_job(**{**_request("colours-batch-rec", "colours", bucket, "rec/",
                                                 ContentType="application/x-recordio", SplitType="RecordIO"),
                                      "TransformOutput": {"S3OutputPath": f"s3://{bucket}/rec-out",
                                                          "Accept": "application/jsonlines", "AssembleWith": "Line"}})
    answer = _finished(sagemaker, "colours-batch-rec")
    assert answer["TransformJobStatus"] == "Completed", answer.get("FailureReason")
    lines = s3.get_object(Bucket=bucket, Key="rec-out/val.rec.out")["Body"].read().decode().splitlines()
    assert len(lines) == 5 and all(len(json.loads(line)["prediction"]) == 3 for line in lines)


def test_refusals_are_in_aws_words(as_user, alice, bob, worker, colour_artifact):
    _model(bob, colour_artifact)  # bob's model is no model of alice's
    as_user(alice)
    bucket = seed_bucket(alice, "alice-batch-bad")
    sagemaker = boto3.client("sagemaker")
    with pytest.raises(sagemaker.exceptions.ClientError, match=r'Could not find model "arn:aws:sagemaker:.*:model/colours"'):
        sagemaker.create_transform_job(**_request("colours-batch-2", "colours", bucket, "test/"))
    _model(alice, colour_artifact)
    with pytest.raises(sagemaker.exceptions.ClientError, match="No S3 objects found under S3 URL"):
        sagemaker.create_transform_job(**_request("colours-batch-3", "colours", bucket, "nothing-here/"))
    with pytest.raises(sagemaker.exceptions.ClientError, match="Could not find|not found"):
        sagemaker.describe_transform_job(TransformJobName="colours-batch-3")
