"""AWS's Image-classification-fulltraining.ipynb, its training half replayed call for call against IC Studio:
boto3 configured by environment variables only, a real store, a real worker, real MXNet on tiny data."""
from __future__ import annotations

import tarfile

import boto3
import pytest

from tests.support.sagemaker_data import ROLE, seed_bucket, training_params, upload, user_s3, write_rec

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(client, name):
    client.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    return client.describe_training_job(TrainingJobName=name)


def test_the_fulltraining_notebook_trains_and_its_model_loads_in_mxnet(as_user, alice, bob, worker, tmp_path):
    import mxnet as mx

    as_user(alice)
    bucket = "alice-notebooks"
    bucket = seed_bucket(alice, bucket)
    s3 = user_s3()
    upload(s3, bucket, "ic-fulltraining/train/colours-train.rec", write_rec(tmp_path / "train.rec", 48, seed=1))
    upload(s3, bucket, "ic-fulltraining/validation/colours-val.rec", write_rec(tmp_path / "val.rec", 24, seed=2))

    sagemaker = boto3.client(service_name="sagemaker")
    job_name = "DEMO-imageclassification-2024-01-01-00-00-00"
    answer = sagemaker.create_training_job(**training_params(job_name, bucket))
    assert answer["TrainingJobArn"].endswith(f":training-job/{job_name.lower()}")
    status = sagemaker.describe_training_job(TrainingJobName=job_name)["TrainingJobStatus"]
    assert status == "InProgress"
    info = _wait(sagemaker, job_name)

    assert info["TrainingJobStatus"] == "Completed", info.get("FailureReason")
    assert info["SecondaryStatus"] == "Completed"
    stages = [row["Status"] for row in info["SecondaryStatusTransitions"]]
    assert stages == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all("EndTime" in row for row in info["SecondaryStatusTransitions"])
    model_data = info["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_data == f"s3://{bucket}/ic-fulltraining/output/{job_name}/output/model.tar.gz"
    metrics = {m["MetricName"]: m["Value"] for m in info["FinalMetricDataList"]}
    assert set(metrics) == {"train:accuracy", "validation:accuracy"}
    assert info["OutputDataConfig"]["KmsKeyId"] == ""
    assert info["RoleArn"] == ROLE and info["HyperParameters"]["epochs"] == "2"
    assert info["TrainingTimeInSeconds"] >= 1 and info["BillableTimeInSeconds"] >= 1
    assert info["TrainingStartTime"] <= info["TrainingEndTime"]

    # The hosting half starts from the artifact: plain MXNet loads it.
    s3.download_file(bucket, model_data.split(f"{bucket}/", 1)[1], str(tmp_path / "model.tar.gz"))
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        tar.extractall(tmp_path / "model", filter="data")
    params = next((tmp_path / "model").glob("image-classification-*.params"))
    epoch = int(params.stem.rsplit("-", 1)[1])
    symbol, arg_params, aux_params = mx.model.load_checkpoint(str(tmp_path / "model" / "image-classification"), epoch)
    module = mx.mod.Module(symbol=symbol, label_names=None, context=mx.cpu())
    module.bind(for_training=False, data_shapes=[("data", (1, 3, 32, 32))])
    module.set_params(arg_params, aux_params, allow_missing=True)

    # The job is an IC Studio job like any other, with its evaluation and a registered model.
    from webapp.registry.models import RegisteredModel
    from webapp.training.models import TrainingJob

    job = TrainingJob.objects.get(name=job_name)
    assert job.version is None and hasattr(job, "evaluation")
    assert RegisteredModel.objects.filter(job=job).exists()
    from django.test import Client

    browser = Client()
    browser.force_login(alice)
    for page in (f"/jobs/{job.id}/", "/jobs/", f"/models/{RegisteredModel.objects.get(job=job).id}/"):
        shown = browser.get(page)
        assert shown.status_code == 200, page
    assert job_name in browser.get(f"/jobs/{job.id}/").content.decode()
    assert browser.get(f"/api/jobs/{job.id}/").json()["name"] == job_name

    # Its log, as CloudWatch Logs.
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                        logStreamNamePrefix=job_name + "/")["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith(f"{job_name}/algo-1-")
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=streams[0]["logStreamName"],
                                 startFromHead=True)
    lines = [e["message"] for e in events["events"]]
    assert any("Epoch[1] Validation-accuracy=" in line for line in lines), lines
    again = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=streams[0]["logStreamName"],
                                startFromHead=True, nextToken=events["nextForwardToken"])
    assert again["events"] == [] and again["nextForwardToken"] == events["nextForwardToken"]

    # Listing and tags.
    summaries = sagemaker.list_training_jobs(NameContains="DEMO")["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in summaries] == [job_name]
    sagemaker.add_tags(ResourceArn=answer["TrainingJobArn"], Tags=[{"Key": "project", "Value": "colours"}])
    assert sagemaker.list_tags(ResourceArn=answer["TrainingJobArn"])["Tags"] == [{"Key": "project", "Value": "colours"}]

    # The same name again is refused in AWS's words.
    with pytest.raises(sagemaker.exceptions.ResourceInUse, match="already exists"):
        sagemaker.create_training_job(**training_params(job_name, bucket))

    # Another user sees nothing of it.
    as_user(bob)
    other = boto3.client("sagemaker")
    with pytest.raises(other.exceptions.ClientError, match="Requested resource not found"):
        other.describe_training_job(TrainingJobName=job_name)
    assert other.list_training_jobs()["TrainingJobSummaries"] == []
    assert boto3.client("logs").describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                                     logStreamNamePrefix=job_name + "/")["logStreams"] == []
