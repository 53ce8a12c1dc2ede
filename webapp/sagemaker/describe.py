"""DescribeTrainingJob's answer for any job (made through the API or in the browser), as the SDK and the
waiters read it. Times are epoch seconds, JSON numbers, as SageMaker's JSON protocol sends them."""
from __future__ import annotations

from webapp.sagemaker import arns
from webapp.training.models import TrainingJob

ENDED = {TrainingJob.State.SUCCEEDED: "Completed", TrainingJob.State.FAILED: "Failed",
         TrainingJob.State.CANCELLED: "Stopped"}
ENDED_MESSAGES = {"Completed": "Training job completed", "Failed": "Training job failed",
                  "Stopped": "Training job stopped", "MaxRuntimeExceeded": "Training job stopped: it exceeded "
                  "MaxRuntimeInSeconds"}
DEFAULT_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"


def _seconds(moment) -> float | None:
    return moment.timestamp() if moment else None


def _api(job: TrainingJob):
    try:
        return job.sagemaker
    except TrainingJob.sagemaker.RelatedObjectDoesNotExist:
        return None


def training_job_status(job: TrainingJob) -> str:
    if job.state in ENDED:
        return ENDED[job.state]
    return "Stopping" if job.cancel_requested else "InProgress"


def secondary_status(job: TrainingJob) -> str:
    api = _api(job)
    status = training_job_status(job)
    if status == "Stopped" and api and api.max_runtime_exceeded:
        return "MaxRuntimeExceeded"
    if status != "InProgress":
        return status
    if api:
        return api.secondary_status
    return "Training" if job.state == TrainingJob.State.RUNNING else "Starting"


def transitions(job: TrainingJob) -> list[dict]:
    """The stages the worker recorded; for a browser job, its start and end."""
    api = _api(job)
    if api:
        rows = [dict(row) for row in api.transitions]
    else:
        rows = [{"Status": "Starting", "StartTime": _seconds(job.created), "StatusMessage": "Queued for a worker"}]
        if job.started:
            rows.append({"Status": "Training", "StartTime": _seconds(job.started),
                         "StatusMessage": "Training in progress."})
    current = secondary_status(job)
    if current in ("Stopping", *ENDED_MESSAGES) and rows[-1]["Status"] != current:
        at = _seconds(job.finished) if current != "Stopping" else _seconds(api.last_modified if api else None)
        rows.append({"Status": current, "StartTime": at or rows[-1]["StartTime"],
                     "StatusMessage": ENDED_MESSAGES.get(current, "Stopping the training job")})
    for row, after in zip(rows, rows[1:]):
        row.setdefault("EndTime", after["StartTime"])
    if current in ENDED_MESSAGES:
        rows[-1].setdefault("EndTime", rows[-1]["StartTime"])
    return rows


def _final_metrics(job: TrainingJob) -> list[dict]:
    figures = job.kept_metrics or job.metrics or {}
    at = _seconds(job.finished) or _seconds(job.heartbeat) or _seconds(job.created)
    return [{"MetricName": name, "Value": float(figures[name]), "Timestamp": at}
            for name in ("train:accuracy", "validation:accuracy") if name in figures]


def _browser_request(job: TrainingJob, region: str) -> dict:
    """What CreateTrainingJob would have been sent for a job started in the browser."""
    return {"AlgorithmSpecification": {"TrainingImage": DEFAULT_IMAGE.replace("us-east-1", region),
                                       "TrainingInputMode": "File"},
            "RoleArn": f"arn:aws:iam::{arns.account_id(job.owner)}:role/ic-studio",
            "OutputDataConfig": {"KmsKeyId": "", "S3OutputPath": ""},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p2.xlarge", "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
            "HyperParameters": dict(job.hyperparameters)}


def summary(job: TrainingJob, *, region: str) -> dict:
    api = _api(job)
    row = {"TrainingJobName": job.name, "TrainingJobArn": arns.training_job_arn(job.owner, api.region if api else region,
                                                                                job.name),
           "CreationTime": _seconds(job.created), "TrainingJobStatus": training_job_status(job),
           "SecondaryStatus": secondary_status(job),
           "LastModifiedTime": _seconds(api.last_modified if api else (job.finished or job.heartbeat or job.created))}
    if job.finished:
        row["TrainingEndTime"] = _seconds(job.finished)
    return row


def description(job: TrainingJob, *, region: str) -> dict:
    api = _api(job)
    request = api.request if api else _browser_request(job, region)
    answer = summary(job, region=region)
    spec = {"TrainingInputMode": "File", **request["AlgorithmSpecification"]}
    spec.setdefault("MetricDefinitions", [
        {"Name": "train:accuracy", "Regex": r"Epoch\S* Train-accuracy=(\S*)"},
        {"Name": "validation:accuracy", "Regex": r"Epoch\S* Validation-accuracy=(\S*)"}])
    output = {"KmsKeyId": "", **request["OutputDataConfig"]}
    answer.update({
        "AlgorithmSpecification": spec,
        "HyperParameters": request.get("HyperParameters") or {},
        "RoleArn": request["RoleArn"],
        "InputDataConfig": request.get("InputDataConfig") or [],
        "OutputDataConfig": output,
        "ResourceConfig": {"VolumeSizeInGB": 30, **request["ResourceConfig"]},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400, **(request.get("StoppingCondition") or {})},
        "ModelArtifacts": {"S3ModelArtifacts": api.model_artifacts if api else ""},
        "SecondaryStatusTransitions": transitions(job),
        "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
        "EnableInterContainerTrafficEncryption": bool(request.get("EnableInterContainerTrafficEncryption", False)),
        "EnableManagedSpotTraining": bool(request.get("EnableManagedSpotTraining", False)),
    })
    metrics = _final_metrics(job)
    if metrics:
        answer["FinalMetricDataList"] = metrics
    started = (api.training_started if api else None) or job.started
    if started:
        answer["TrainingStartTime"] = _seconds(started)
    if job.finished and started:
        answer["TrainingTimeInSeconds"] = answer["BillableTimeInSeconds"] = max(1, int(
            (job.finished - started).total_seconds()))
    if job.state == TrainingJob.State.FAILED:
        answer["FailureReason"] = job.reason or "AlgorithmError: the training failed"
    from webapp.sagemaker.tuning_jobs import tuning_job_arn_of

    tuning_arn = tuning_job_arn_of(job)
    if tuning_arn:
        answer["TuningJobArn"] = tuning_arn
    for name in ("DebugHookConfig", "ProfilerConfig", "Environment", "RetryStrategy", "CheckpointConfig",
                 "TensorBoardOutputConfig", "ExperimentConfig", "VpcConfig"):
        if request.get(name):
            answer[name] = request[name]
    return answer
