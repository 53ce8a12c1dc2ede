"""The rest of AWS's Image-classification-fulltraining.ipynb replayed call for call against IC Studio: a tuning
job polled to its BestTrainingJob (as AWS's tuning notebooks poll it), ``create_model`` from that trial's
artifact, a batch transform whose ``.out`` files are read back as the notebook reads them, an endpoint config,
an endpoint awaited with the ``endpoint_in_service`` waiter, ``invoke_endpoint`` answering the library's own
probabilities, and the clean-up. boto3 is configured by environment variables alone; the store, the Celery
worker, the serving worker and the training are real."""
from __future__ import annotations

import json
import time
from urllib.parse import urlparse

import boto3
import numpy as np
import pytest

from tests.support.images import colour_jpeg
from tests.support.sagemaker_data import IMAGE_URI, ROLE, TINY, seed_bucket, upload, user_s3, write_rec

pytestmark = pytest.mark.django_db(transaction=True)


def _channels(bucket: str) -> list[dict]:
    return [{"ChannelName": name, "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/ic-fulltraining/{name}/",
        "S3DataDistributionType": "FullyReplicated"}},
        "ContentType": "application/x-recordio", "CompressionType": "None"} for name in ("train", "validation")]


def _tune(sagemaker, bucket: str, name: str) -> dict:
    """The tuning notebooks' request and polling loop (sleep shortened): the BestTrainingJob it ends with."""
    static = {key: value for key, value in TINY.items() if key not in ("learning_rate", "mini_batch_size")}
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"MetricName": "validation:accuracy", "Type": "Maximize"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.1",
                                               "ScalingType": "Logarithmic"}],
                "IntegerParameterRanges": [{"Name": "mini_batch_size", "MinValue": "8", "MaxValue": "16",
                                            "ScalingType": "Linear"}],
                "CategoricalParameterRanges": []},
            "TrainingJobEarlyStoppingType": "Off"},
        TrainingJobDefinition={
            "AlgorithmSpecification": {"TrainingImage": IMAGE_URI, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": _channels(bucket),
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/ic-fulltraining/output"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p3.2xlarge", "VolumeSizeInGB": 50},
            "StoppingCondition": {"MaxRuntimeInSeconds": 43200},
            "StaticHyperParameters": {**static, "num_training_samples": "48"}})
    deadline = time.monotonic() + 900
    while True:
        tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if tuning["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            return tuning
        assert time.monotonic() < deadline, tuning
        time.sleep(2)


def test_the_notebook_tunes_hosts_transforms_and_cleans_up(as_user, alice, worker, serving_worker, tmp_path):
    from classifier.inference import Predictor

    as_user(alice)
    bucket = seed_bucket(alice, "alice-hosting")
    s3 = user_s3()
    upload(s3, bucket, "ic-fulltraining/train/colours-train.rec", write_rec(tmp_path / "train.rec", 48, seed=1))
    upload(s3, bucket, "ic-fulltraining/validation/colours-val.rec", write_rec(tmp_path / "val.rec", 24, seed=2))
    sage = boto3.Session().client(service_name="sagemaker")

    tuning = _tune(sage, bucket, "DEMO-ic-tuning-2024")
    assert tuning["HyperParameterTuningJobStatus"] == "Completed", tuning.get("FailureReason")
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
    best = tuning["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:accuracy"
    assert set(best["TunedHyperParameters"]) == {"learning_rate", "mini_batch_size"}
    trials = sage.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="DEMO-ic-tuning-2024")["TrainingJobSummaries"]
    assert best["TrainingJobName"] in {trial["TrainingJobName"] for trial in trials} and len(trials) == 2
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(
        trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for trial in trials)

    # Create Model, from the best trial's artifact.
    model_name = "DEMO-full-image-classification-model-2024-01-01-00-00-00"
    info = sage.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert info["TuningJobArn"] == tuning["HyperParameterTuningJobArn"]
    model_data = info["ModelArtifacts"]["S3ModelArtifacts"]
    created = sage.create_model(ModelName=model_name, ExecutionRoleArn=ROLE,
                                PrimaryContainer={"Image": IMAGE_URI, "ModelDataUrl": model_data})
    assert created["ModelArn"].endswith(f":model/{model_name.lower()}")
    s3.download_file(bucket, urlparse(model_data).path.lstrip("/"), str(tmp_path / "model.tar.gz"))
    library = Predictor(tmp_path / "model.tar.gz")

    # Batch transform over a folder of test images, its .out files read as the notebook reads them.
    images = {f"image-classification-full-training/test/008_{i:04d}.jpg": colour_jpeg(i % 3, seed=900 + i)
              for i in range(1, 4)}
    for key, body in images.items():
        upload(s3, bucket, key, body)
    batch_job_name = "image-classification-model-2024-01-01-00-00-00"
    sage.create_transform_job(**{
        "TransformJobName": batch_job_name, "ModelName": model_name, "MaxConcurrentTransforms": 16,
        "MaxPayloadInMB": 6, "BatchStrategy": "SingleRecord",
        "TransformOutput": {"S3OutputPath": f"s3://{bucket}/{batch_job_name}/output"},
        "TransformInput": {"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/image-classification-full-training/test/"}},
            "ContentType": "application/x-image", "SplitType": "None", "CompressionType": "None"},
        "TransformResources": {"InstanceType": "ml.p2.xlarge", "InstanceCount": 1}})
    deadline = time.monotonic() + 300
    while True:
        response = sage.describe_transform_job(TransformJobName=batch_job_name)
        if response["TransformJobStatus"] == "Completed":
            break
        assert response["TransformJobStatus"] != "Failed", response.get("FailureReason")
        assert time.monotonic() < deadline, response
        time.sleep(1)
    outputs = [c["Key"] for c in s3.list_objects(Bucket=bucket, Prefix=batch_job_name + "/output")["Contents"]]
    assert sorted(outputs) == sorted(f"{batch_job_name}/output/{key.rsplit('/', 1)[1]}.out" for key in images)
    for key, body in images.items():
        out = json.loads(s3.get_object(Bucket=bucket, Key=f"{batch_job_name}/output/{key.rsplit('/', 1)[1]}.out")
                         ["Body"].read())
        np.testing.assert_allclose(out["prediction"], library.predict([body])[0], rtol=1e-4, atol=1e-5)

    # Realtime inference: endpoint config, endpoint, the waiter, invoke_endpoint.
    endpoint_config_name = "DEMO-imageclassification-epc--2024-01-01-00-00-00"
    config = sage.create_endpoint_config(EndpointConfigName=endpoint_config_name, ProductionVariants=[{
        "InstanceType": "ml.m4.xlarge", "InitialInstanceCount": 1, "ModelName": model_name,
        "VariantName": "AllTraffic"}])
    assert config["EndpointConfigArn"].endswith(f":endpoint-config/{endpoint_config_name.lower()}")
    endpoint_name = "DEMO-imageclassification-ep--2024-01-01-00-00-00"
    sage.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=endpoint_config_name)
    assert sage.describe_endpoint(EndpointName=endpoint_name)["EndpointStatus"] in ("Creating", "InService")
    sage.get_waiter("endpoint_in_service").wait(EndpointName=endpoint_name, WaiterConfig={"Delay": 1,
                                                                                           "MaxAttempts": 120})
    endpoint = sage.describe_endpoint(EndpointName=endpoint_name)
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == endpoint_config_name

    runtime = boto3.Session().client(service_name="runtime.sagemaker")
    payload = bytearray(colour_jpeg(1, seed=4242))
    response = runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="application/x-image", Body=payload)
    assert response["InvokedProductionVariant"] == "AllTraffic"
    result = json.loads(response["Body"].read())
    np.testing.assert_allclose(result, library.predict([bytes(payload)])[0], rtol=1e-4, atol=1e-5)
    assert int(np.argmax(result)) in range(3)

    # Clean up, as the notebook does.
    sage.delete_endpoint(EndpointName=endpoint_name)
    with pytest.raises(sage.exceptions.ClientError, match="Could not find endpoint"):
        sage.describe_endpoint(EndpointName=endpoint_name)
    sage.delete_endpoint_config(EndpointConfigName=endpoint_config_name)
    sage.delete_model(ModelName=model_name)
    with pytest.raises(sage.exceptions.ClientError, match="Could not find model"):
        sage.describe_model(ModelName=model_name)
