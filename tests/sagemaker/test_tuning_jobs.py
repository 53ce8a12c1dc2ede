"""SageMaker's tuning operations beyond the notebook's path, through boto3 configured by environment variables:
StopHyperParameterTuningJob ends the tuning job and its running trial Stopped; a tuning job whose data is gone
ends Failed with the reason instead of retrying; requests the algorithm cannot tune are refused at create in
plain words; another user's tuning job is missing."""
from __future__ import annotations

import time

import boto3
import pytest

from tests.support.sagemaker_data import IMAGE_URI, ROLE, TINY, seed_bucket, upload, user_s3, write_rec

pytestmark = pytest.mark.django_db(transaction=True)


def _request(name: str, bucket: str, *, ranges: dict | None = None, static: dict | None = None, **config) -> dict:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"MetricName": "validation:accuracy", "Type": "Maximize"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": ranges or {"ContinuousParameterRanges": [
                {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.1", "ScalingType": "Logarithmic"}]},
            **config},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": IMAGE_URI, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": [{"ChannelName": channel, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/tune/{channel}/"}},
                "ContentType": "application/x-recordio"} for channel in ("train", "validation")],
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/tune/output"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p3.2xlarge", "VolumeSizeInGB": 50},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "StaticHyperParameters": static or {**{k: v for k, v in TINY.items() if k != "learning_rate"},
                                                "num_training_samples": "48"}}}


def _data(alice, tmp_path, name: str) -> str:
    bucket = seed_bucket(alice, name)
    s3 = user_s3()
    upload(s3, bucket, "tune/train/train.rec", write_rec(tmp_path / "train.rec", 48, seed=1))
    upload(s3, bucket, "tune/validation/val.rec", write_rec(tmp_path / "val.rec", 24, seed=2))
    return bucket


def _until(sage, name: str, done, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while not done(tuning := sage.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)):
        assert time.monotonic() < deadline, tuning
        time.sleep(0.5)
    return tuning


def test_stopping_a_tuning_job_stops_its_running_trial(as_user, alice, bob, worker, tmp_path):
    as_user(alice)
    bucket = _data(alice, tmp_path, "alice-tune-stop")
    sage = boto3.client("sagemaker")
    static = {**{k: v for k, v in TINY.items() if k != "learning_rate"}, "num_training_samples": "48", "epochs": "200"}
    sage.create_hyper_parameter_tuning_job(**_request("stop-me", bucket, static=static))
    with pytest.raises(sage.exceptions.ClientError, match="already exists"):
        sage.create_hyper_parameter_tuning_job(**_request("stop-me", bucket, static=static))

    def training(name):
        jobs = sage.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        return [j for j in jobs["TrainingJobSummaries"] if j["TrainingJobStatus"] == "InProgress"]

    deadline = time.monotonic() + 120
    while not training("stop-me"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    trial = training("stop-me")[0]["TrainingJobName"]
    assert trial.startswith("stop-me-000-")
    assert sage.describe_training_job(TrainingJobName=trial)["TuningJobArn"].endswith(
        ":hyper-parameter-tuning-job/stop-me")

    as_user(bob)
    other = boto3.client("sagemaker")
    with pytest.raises(other.exceptions.ClientError, match="can't find a tuning job"):
        other.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-me")
    as_user(alice)

    sage.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-me")
    tuning = _until(sage, "stop-me", lambda t: t["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"))
    assert tuning["HyperParameterTuningJobStatus"] == "Stopped"
    assert tuning["TrainingJobStatusCounters"]["Stopped"] == 1 and tuning["TrainingJobStatusCounters"]["InProgress"] == 0
    assert sage.describe_training_job(TrainingJobName=trial)["TrainingJobStatus"] == "Stopped"
    with pytest.raises(sage.exceptions.ClientError, match="in status Stopped"):
        sage.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-me")
    listed = sage.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [(t["HyperParameterTuningJobName"], t["HyperParameterTuningJobStatus"]) for t in listed] == [
        ("stop-me", "Stopped")]


def test_a_tuning_job_whose_data_is_gone_ends_failed_with_the_reason(as_user, alice, worker, tmp_path):
    as_user(alice)
    bucket = _data(alice, tmp_path, "alice-tune-gone")
    sage = boto3.client("sagemaker")
    sage.create_hyper_parameter_tuning_job(**_request("gone", bucket))
    s3 = user_s3()
    for key in ("tune/train/train.rec", "tune/validation/val.rec"):
        s3.delete_object(Bucket=bucket, Key=key)
    tuning = _until(sage, "gone", lambda t: t["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"))
    assert tuning["HyperParameterTuningJobStatus"] == "Failed"
    assert bucket in tuning["FailureReason"], tuning["FailureReason"]
    assert "BestTrainingJob" not in tuning


@pytest.mark.parametrize("change, words", [
    ({"HyperParameterTuningJobObjective": {"MetricName": "validation:loss", "Type": "Minimize"}},
     "objective is validation:accuracy, maximised"),
    ({"Strategy": "Grid"}, "Grid search strategy only supports categorical and integer"),
    ({"ParameterRanges": {"ContinuousParameterRanges": [
        {"Name": "early_stopping_patience", "MinValue": "2", "MaxValue": "6"}]}},
     "early_stopping_patience takes an integer"),
    ({"ParameterRanges": {"ContinuousParameterRanges": [
        {"Name": "num_classes", "MinValue": "2", "MaxValue": "3"}]}}, "describes the data"),
    ({"ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 3}}, "must not be greater"),
    ({"Strategy": "Hyperband", "TrainingJobEarlyStoppingType": "Auto"}, "must be Off to use Hyperband"),
    ({"Strategy": "Hyperband", "StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 3, "MaxResource": 2}}},
     r"MinResource \(3\) must not be greater than MaxResource \(2\)"),
    ({"Strategy": "Random", "StrategyConfig": {"HyperbandStrategyConfig": {"MaxResource": 2}}},
     "for the Hyperband strategy only"),
    ({"ParameterRanges": {"ContinuousParameterRanges": [
        {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "5"}]}}, "goes beyond what the algorithm accepts"),
])
def test_what_cannot_be_tuned_is_refused_at_create(as_user, alice, tmp_path, change, words):
    as_user(alice)
    bucket = _data(alice, tmp_path, "alice-tune-refused")
    sage = boto3.client("sagemaker")
    request = _request("refused", bucket)
    request["HyperParameterTuningJobConfig"].update(change)
    with pytest.raises(sage.exceptions.ClientError, match=words):
        sage.create_hyper_parameter_tuning_job(**request)
    assert sage.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
