"""SageMaker's automatic model tuning: CreateHyperParameterTuningJob, DescribeHyperParameterTuningJob,
ListHyperParameterTuningJobs, ListTrainingJobsForHyperParameterTuningJob, StopHyperParameterTuningJob.
A tuning job is an IC Studio tuning job (webapp.tuning), its trials training jobs the API describes like any
other (with ``TuningJobArn``); the browser shows it with its live table and scatter. Browser-made tuning jobs
are described too. A user sees only their own: another user's is missing, in AWS's words."""
from __future__ import annotations

from django.db import IntegrityError

from webapp.aws.errors import AwsError
from webapp.core.errors import ServiceError
from webapp.sagemaker import arns
from webapp.sagemaker.channels import invalid
from webapp.sagemaker.describe import DEFAULT_IMAGE, training_job_status
from webapp.sagemaker.listing import listed, with_token
from webapp.sagemaker.training_jobs import require
from webapp.training.models import TrainingJob
from webapp.tuning.models import Trial, TuningJob

OBJECTIVE = {"MetricName": "validation:accuracy", "Type": "Maximize"}


def _name(request: dict) -> str:
    require(request, "HyperParameterTuningJobName")
    return request["HyperParameterTuningJobName"]


def tuning_of(caller, name: str) -> TuningJob:
    tuning = (TuningJob.objects.filter(owner=caller.user, name__iexact=name)
              .select_related("owner", "best_job").first())
    if tuning is None:
        raise AwsError(400, "ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}")
    return tuning


def _objective(config: dict) -> None:
    objective = config.get("HyperParameterTuningJobObjective") or OBJECTIVE
    if (objective.get("MetricName"), objective.get("Type", "Maximize")) != (OBJECTIVE["MetricName"], "Maximize"):
        raise invalid(f"The objective {objective.get('Type')} {objective.get('MetricName')} is not supported: the "
                      "image-classification algorithm's tuning objective is validation:accuracy, maximised")


def _with_resource_config(definition: dict) -> dict:
    """The definition with a trial's ResourceConfig: the SageMaker SDK sends HyperParameterTuningResourceConfig
    (the same members, or InstanceConfigs to choose among) in its place."""
    tuning_resources = definition.get("HyperParameterTuningResourceConfig")
    if definition.get("ResourceConfig") or not tuning_resources:
        return definition
    chosen = next(iter(tuning_resources.get("InstanceConfigs") or []), tuning_resources)
    resources = {member: chosen[member] for member in ("InstanceCount", "InstanceType", "VolumeSizeInGB")
                 if member in chosen}
    return {**definition, "ResourceConfig": {"InstanceCount": 1, **resources}}


def _strategy_config(config: dict, static: dict) -> None:
    """A StrategyConfig only with Hyperband, whose resources are checked, and which stops trials itself."""
    from webapp.tuning.search import hyperband_resources

    strategy = config.get("Strategy") or "Bayesian"
    if strategy != "Hyperband":
        if config.get("StrategyConfig"):
            raise invalid(f"StrategyConfig is for the Hyperband strategy only, and this tuning job's is {strategy}")
        return
    if config.get("TrainingJobEarlyStoppingType") == "Auto":
        raise invalid("TrainingJobEarlyStoppingType must be Off to use Hyperband: it has its own early stopping")
    try:
        epochs = int(float(static.get("epochs", 30)))
    except (TypeError, ValueError):
        return  # the static hyperparameters' own check says what is wrong with it
    try:
        hyperband_resources((config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig"), epochs)
    except ServiceError as error:
        raise invalid(str(error)) from None


def create_hyper_parameter_tuning_job(caller, request: dict) -> dict:
    from webapp.tuning.services import tuning_create

    name = _name(request)
    require(request, "HyperParameterTuningJobConfig")
    if request.get("TrainingJobDefinitions"):
        raise invalid("TrainingJobDefinitions (several algorithms in one tuning job) is not supported: give one "
                      "TrainingJobDefinition")
    require(request, "TrainingJobDefinition")
    config = request["HyperParameterTuningJobConfig"]
    _objective(config)
    _strategy_config(config, request["TrainingJobDefinition"].get("StaticHyperParameters") or {})
    limits = config.get("ResourceLimits") or {}
    definition = request["TrainingJobDefinition"] = _with_resource_config(request["TrainingJobDefinition"])
    arn = arns.tuning_job_arn(caller.user, caller.region, name)
    try:
        tuning_create(owner=caller.user, name=name, strategy=config.get("Strategy") or "Bayesian",
                      ranges=config.get("ParameterRanges") or {},
                      static_hyperparameters=definition.get("StaticHyperParameters") or {},
                      max_jobs=limits.get("MaxNumberOfTrainingJobs"), max_parallel=limits.get("MaxParallelTrainingJobs"),
                      early_stopping=config.get("TrainingJobEarlyStoppingType") == "Auto", request=request,
                      region=caller.region)
    except ServiceError as error:
        if error.field == "name" and "exists" in str(error):
            raise AwsError(400, "ResourceInUse", f"Hyperparameter tuning job names must be unique within an AWS "
                                                 f"account and region, and a job with this name already exists ({arn})")
        raise invalid(str(error)) from None
    except IntegrityError:
        raise AwsError(400, "ResourceInUse", f"A hyperparameter tuning job with this name already exists ({arn})")
    return {"HyperParameterTuningJobArn": arn}


def _seconds(moment) -> float | None:
    return moment.timestamp() if moment else None


def _objective_status(trial: Trial) -> str:
    if trial.objective is not None:
        return "Succeeded"
    return "Pending" if not trial.job.finished_state else "Failed"


def trial_summary(trial: Trial, tuning: TuningJob) -> dict:
    """A TrainingJobSummary of ListTrainingJobsForHyperParameterTuningJob (and BestTrainingJob)."""
    job = trial.job
    api = getattr(job, "sagemaker", None)
    region = api.region if api else tuning.region
    summary = {"TrainingJobName": job.name, "TrainingJobArn": arns.training_job_arn(tuning.owner, region, job.name),
               "TuningJobName": tuning.name, "CreationTime": _seconds(job.created),
               "TrainingJobStatus": training_job_status(job), "TunedHyperParameters": trial.tuned,
               "ObjectiveStatus": _objective_status(trial)}
    started = (api.training_started if api else None) or job.started
    if started:
        summary["TrainingStartTime"] = _seconds(started)
    if job.finished:
        summary["TrainingEndTime"] = _seconds(job.finished)
    if trial.objective is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": OBJECTIVE["MetricName"],
                                                                  "Value": trial.objective}
    if job.state == TrainingJob.State.FAILED:
        summary["FailureReason"] = job.reason
    return summary


def _trials(tuning: TuningJob) -> list[Trial]:
    return list(tuning.trials.select_related("job", "job__sagemaker").order_by("number"))


def _counters(trials: list[Trial]) -> tuple[dict, dict]:
    jobs = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    objectives = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for trial in trials:
        status = training_job_status(trial.job)
        jobs["NonRetryableError" if status == "Failed" else status if status in jobs else "InProgress"] += 1
        objectives[_objective_status(trial)] += 1
    return jobs, objectives


def _config(tuning: TuningJob) -> dict:
    """HyperParameterTuningJobConfig as sent, with SageMaker's defaults; a browser tuning job's own."""
    given = tuning.request.get("HyperParameterTuningJobConfig") or {}
    return {"Strategy": tuning.strategy, "HyperParameterTuningJobObjective": OBJECTIVE,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": tuning.max_jobs,
                               "MaxParallelTrainingJobs": tuning.max_parallel},
            "ParameterRanges": tuning.ranges,
            "TrainingJobEarlyStoppingType": "Auto" if tuning.early_stopping else "Off", **given}


def _definition(tuning: TuningJob) -> dict:
    if tuning.request.get("TrainingJobDefinition"):
        return tuning.request["TrainingJobDefinition"]
    return {"AlgorithmSpecification": {"TrainingImage": DEFAULT_IMAGE.replace("us-east-1", tuning.region),
                                       "TrainingInputMode": "File"},
            "StaticHyperParameters": tuning.static_hyperparameters,
            "RoleArn": f"arn:aws:iam::{arns.account_id(tuning.owner)}:role/ic-studio",
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p2.xlarge", "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400}, "OutputDataConfig": {"S3OutputPath": ""}}


def _arn(tuning: TuningJob) -> str:
    return arns.tuning_job_arn(tuning.owner, tuning.region, tuning.name)


def _summary(tuning: TuningJob, trials: list[Trial]) -> dict:
    jobs, objectives = _counters(trials)
    summary = {"HyperParameterTuningJobName": tuning.name, "HyperParameterTuningJobArn": _arn(tuning),
               "HyperParameterTuningJobStatus": tuning.status, "Strategy": tuning.strategy,
               "CreationTime": _seconds(tuning.created), "LastModifiedTime": _seconds(tuning.last_modified),
               "TrainingJobStatusCounters": jobs, "ObjectiveStatusCounters": objectives,
               "ResourceLimits": {"MaxNumberOfTrainingJobs": tuning.max_jobs,
                                  "MaxParallelTrainingJobs": tuning.max_parallel}}
    if tuning.finished:
        summary["HyperParameterTuningEndTime"] = _seconds(tuning.finished)
    return summary


def describe_hyper_parameter_tuning_job(caller, request: dict) -> dict:
    tuning = tuning_of(caller, _name(request))
    trials = _trials(tuning)
    answer = {**_summary(tuning, trials), "HyperParameterTuningJobConfig": _config(tuning),
              "TrainingJobDefinition": _definition(tuning)}
    for moved in ("Strategy", "ResourceLimits"):  # in the config, in a description
        answer.pop(moved)
    best = next((trial for trial in trials if trial.job_id == tuning.best_job_id), None)
    if best is not None:
        answer["BestTrainingJob"] = trial_summary(best, tuning)
    if tuning.reason and tuning.status == TuningJob.Status.FAILED:
        answer["FailureReason"] = tuning.reason
    return answer


def list_hyper_parameter_tuning_jobs(caller, request: dict) -> dict:
    page, token = listed(TuningJob.objects.filter(owner=caller.user).select_related("owner"), request,
                         sort_fields={"Name": "name", "Status": "status"}, status_of=lambda row: row.status)
    return with_token({"HyperParameterTuningJobSummaries": [_summary(row, _trials(row)) for row in page]}, token)


def list_training_jobs_for_hyper_parameter_tuning_job(caller, request: dict) -> dict:
    tuning = tuning_of(caller, _name(request))
    summaries = [trial_summary(trial, tuning) for trial in _trials(tuning)]
    if request.get("StatusEquals"):
        summaries = [s for s in summaries if s["TrainingJobStatus"] == request["StatusEquals"]]
    by = request.get("SortBy") or "CreationTime"
    key = {"Name": lambda s: s["TrainingJobName"], "Status": lambda s: s["TrainingJobStatus"],
           "FinalObjectiveMetricValue": lambda s: s.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get(
               "Value", float("-inf"))}.get(by, lambda s: s["CreationTime"])
    summaries.sort(key=key, reverse=request.get("SortOrder", "Descending") != "Ascending")
    start = int(request.get("NextToken") or 0)
    limit = max(1, min(int(request.get("MaxResults") or 10), 100))
    answer = {"TrainingJobSummaries": summaries[start:start + limit]}
    if start + limit < len(summaries):
        answer["NextToken"] = str(start + limit)
    return answer


def stop_hyper_parameter_tuning_job(caller, request: dict) -> dict:
    from webapp.tuning.services import tuning_stop

    tuning = tuning_of(caller, _name(request))
    if tuning.status != TuningJob.Status.IN_PROGRESS:
        raise invalid(f"The request was rejected because the hyperparameter tuning job is in status {tuning.status}.")
    try:
        tuning_stop(tuning=tuning)
    except ServiceError as error:
        raise invalid(str(error)) from None
    return {}


def tuning_job_arn_of(job: TrainingJob) -> str | None:
    """DescribeTrainingJob's TuningJobArn: the tuning job a trial belongs to."""
    trial = Trial.objects.filter(job_id=job.id).select_related("tuning__owner").first()
    return _arn(trial.tuning) if trial else None


OPERATIONS = {
    "CreateHyperParameterTuningJob": create_hyper_parameter_tuning_job,
    "DescribeHyperParameterTuningJob": describe_hyper_parameter_tuning_job,
    "ListHyperParameterTuningJobs": list_hyper_parameter_tuning_jobs,
    "ListTrainingJobsForHyperParameterTuningJob": list_training_jobs_for_hyper_parameter_tuning_job,
    "StopHyperParameterTuningJob": stop_hyper_parameter_tuning_job,
}
