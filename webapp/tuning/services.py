"""Writes on tuning jobs: create (the ranges checked against the algorithm's hyperparameters), stop.

A browser tuning job trains its trials on a dataset version; an API one (``request``, SageMaker's
CreateHyperParameterTuningJob) on the S3 channels of its TrainingJobDefinition. The scheduler
(webapp/tuning/running.py) starts the trials once the tuning job is committed."""
from __future__ import annotations

import re
from functools import partial

from django.db import IntegrityError, transaction

from classifier.hyperparameters import SCHEMA
from webapp.core.errors import ServiceError
from webapp.tuning import search
from webapp.tuning.models import TuningJob

TUNING_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")  # SageMaker's HyperParameterTuningJobName rule
# What the SageMaker Python SDK adds to the static hyperparameters, which the built-in algorithm never reads.
RESERVED = ("_tuning_objective_metric", "sagemaker_estimator_class_name", "sagemaker_estimator_module")
# Filled in from the data (a version's), never searched.
NOT_TUNABLE = ("num_classes", "num_training_samples", "multi_label", "use_pretrained_model", "model_prefix")
MAX_TRAINING_JOBS = 500  # SageMaker's quota of training jobs per tuning job


def static_of(hyperparameters: dict) -> dict[str, str]:
    """The static hyperparameters a trial trains with: strings, without what only the SDK reads."""
    if not isinstance(hyperparameters, dict) or any(not isinstance(v, str) for v in hyperparameters.values()):
        raise ServiceError("StaticHyperParameters must be a map of strings to strings", "static_hyperparameters")
    return {k: v for k, v in hyperparameters.items() if k not in RESERVED}


def _check_limits(*, name: str, strategy: str, max_jobs, max_parallel) -> None:
    if not isinstance(name, str) or not TUNING_NAME.match(name):
        raise ServiceError(f"the name {name!r} must be 1 to 32 letters, digits or hyphens, starting with a letter "
                           "or digit (SageMaker's HyperParameterTuningJobName)", "name")
    if strategy not in TuningJob.Strategy.values:
        raise ServiceError(f"Strategy {strategy} is not one of {', '.join(TuningJob.Strategy.values)}", "strategy")
    for field, value in (("max_jobs", max_jobs), ("max_parallel", max_parallel)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TRAINING_JOBS:
            raise ServiceError(f"{'MaxNumberOfTrainingJobs' if field == 'max_jobs' else 'MaxParallelTrainingJobs'} "
                               f"must be an integer from 1 to {MAX_TRAINING_JOBS}, not {value!r}", field)
    if max_parallel > max_jobs:
        raise ServiceError(f"MaxParallelTrainingJobs ({max_parallel}) must not be greater than "
                           f"MaxNumberOfTrainingJobs ({max_jobs})", "max_parallel")


def _check_names(params: list[search.Param], static: dict[str, str]) -> None:
    for param in params:
        spec = SCHEMA.get(param.name)
        if spec is None:
            raise ServiceError(f"{param.name} is not a hyperparameter of the image-classification algorithm",
                               "ranges")
        if param.name in NOT_TUNABLE:
            raise ServiceError(f"{param.name} cannot be tuned: it describes the data, not the training", "ranges")
        if param.name in static:
            raise ServiceError(f"{param.name} is both a static hyperparameter and a tuned one: give it only one "
                               "of the two", "ranges")
        distribution = param.distribution
        if isinstance(distribution, search.FloatDistribution) and spec.kind != "float":
            raise ServiceError(f"{param.name} takes {_kind(spec)}, so it needs an "
                               f"{'IntegerParameterRanges' if spec.kind == 'int' else 'CategoricalParameterRanges'} "
                               "entry, not a continuous range", "ranges")
        if isinstance(distribution, search.IntDistribution) and spec.kind not in ("int", "float"):
            raise ServiceError(f"{param.name} takes {_kind(spec)}, so it needs a CategoricalParameterRanges "
                               "entry, not an integer range", "ranges")
        if not isinstance(distribution, search.CategoricalDistribution):
            low, high = _bounds(param)
            too_low = spec.minimum is not None and low < spec.minimum
            too_high = spec.maximum is not None and high > spec.maximum
            if too_low or too_high:
                allowed = (f"between {spec.minimum:g} and {spec.maximum:g}" if spec.maximum is not None
                           else f"at least {spec.minimum:g}")
                raise ServiceError(f"the range of {param.name} [{low:g}, {high:g}] goes beyond what the algorithm "
                                   f"accepts: {param.name} must be {allowed}", "ranges")


def _kind(spec) -> str:
    return {"int": "an integer", "float": "a number", "choice": f"one of {', '.join(map(str, spec.choices or ()))}",
            "bool": "True or False", "flag": "0 or 1"}.get(spec.kind, "a string")


def _bounds(param: search.Param) -> tuple[float, float]:
    distribution = param.distribution
    if param.reverse:
        return 1.0 - distribution.high, 1.0 - distribution.low
    return distribution.low, distribution.high


def _corners(params: list[search.Param]) -> list[dict[str, str]]:
    """Tuned values to check a whole job's hyperparameters with: every range at its low end, then at its high
    end, and each categorical value once."""
    low, high, rest = {}, {}, []
    for param in params:
        distribution = param.distribution
        if isinstance(distribution, search.CategoricalDistribution):
            low[param.name] = high[param.name] = distribution.choices[0]
            rest += [{param.name: value} for value in distribution.choices[1:]]
        else:
            a, b = _bounds(param)
            integer = isinstance(distribution, search.IntDistribution)
            low[param.name], high[param.name] = (str(int(a)), str(int(b))) if integer else (repr(a), repr(b))
    return [low, high] + [{**low, **one} for one in rest]


def _check_combinations(params, static, *, check) -> None:
    """``check(hyperparameters)`` raises for a set a trial could not train with; said as a range's fault."""
    for tuned in _corners(params):
        try:
            check({**static, **tuned})
        except ServiceError as error:
            if error.field == "request":  # the API's definition, in AWS's words
                raise
            problems = error.by_field()
            tuned_bad = [name for name in problems if name in tuned]
            words = "; ".join(f"{k}: {v}" if k else v for k, v in problems.items())
            if tuned_bad:
                shown = ", ".join(f"{name}={tuned[name]}" for name in tuned_bad)
                raise ServiceError(f"a trial with {shown} could not train: {words}", "ranges") from None
            raise ServiceError(f"the static hyperparameters are not valid: {words}", "static_hyperparameters") from None


def _version_check(*, owner, version):
    from webapp.datasets.models import DatasetVersion
    from webapp.training.models import TrainingJob
    from webapp.training.services import job_hyperparameters

    if version.dataset.owner_id != owner.id:
        raise ServiceError("no such version", "version")
    if version.status != DatasetVersion.Status.READY:
        raise ServiceError(f"version {version.number} is {version.status}; wait until it is ready", "version")
    return partial(job_hyperparameters, version=version, mode=TrainingJob.Mode.FULL)


def _api_check(*, owner, request: dict, region: str):
    """The trials' definition checked as CreateTrainingJob checks a job (the channels and the output path
    once); AWS's words kept as a ServiceError's."""
    from webapp.aws.errors import AwsError
    from webapp.sagemaker.training_jobs import api_job_check

    definition = request.get("TrainingJobDefinition") or {}
    state = {"data": True}

    def check(hyperparameters: dict) -> None:
        try:
            api_job_check(user=owner, region=region, request={**definition, "HyperParameters": hyperparameters},
                          check_data=state["data"])
        except AwsError as error:
            raise ServiceError(error.message, "request") from None
        state["data"] = False

    return check


def tuning_create(*, owner, name: str, strategy: str, ranges: dict, static_hyperparameters: dict[str, str],
                  max_jobs: int, max_parallel: int, early_stopping: bool, version=None, request: dict | None = None,
                  region: str = "us-east-1") -> TuningJob:
    """A tuning job whose trials the scheduler starts once it is committed."""
    from webapp.tuning.running import tuning_kick

    if (version is None) == (request is None):
        raise ServiceError("a tuning job trains either on a version or on S3 channels", "version")
    _check_limits(name=name, strategy=strategy, max_jobs=max_jobs, max_parallel=max_parallel)
    static = static_of(static_hyperparameters or {})
    params = search.params_of(ranges)
    _check_names(params, static)
    if strategy == TuningJob.Strategy.GRID:
        search.grid_space(params)
    check = _version_check(owner=owner, version=version) if version is not None else _api_check(
        owner=owner, request=request, region=region)
    if version is not None:
        check = partial(_checked, check)
    _check_combinations(params, static, check=check)
    if TuningJob.objects.filter(owner=owner, name__iexact=name).exists():
        raise _exists(name)
    try:
        with transaction.atomic():
            tuning = TuningJob.objects.create(
                owner=owner, name=name, version=version, strategy=strategy, ranges=ranges,
                static_hyperparameters=static, max_jobs=max_jobs, max_parallel=max_parallel,
                early_stopping=bool(early_stopping), request=request or {}, region=region)
            transaction.on_commit(partial(tuning_kick, tuning.id))
    except IntegrityError:  # the same name at the same moment
        raise _exists(name) from None
    return tuning


def _checked(job_hyperparameters, hyperparameters: dict) -> None:
    job_hyperparameters(hyperparameters=hyperparameters)


def _exists(name: str) -> ServiceError:
    return ServiceError(f"a tuning job named {name} exists already: tuning job names are unique", "name")


def tuning_stop(*, tuning: TuningJob) -> TuningJob:
    """StopHyperParameterTuningJob: Stopping at once; the scheduler stops the running trials and ends it Stopped."""
    from webapp.tuning.notices import tuning_changed
    from webapp.tuning.running import tuning_advance

    if tuning.status != TuningJob.Status.IN_PROGRESS:
        raise ServiceError(f"the tuning job is {tuning.status}: only one in progress can be stopped", "status")
    TuningJob.objects.filter(id=tuning.id, status=TuningJob.Status.IN_PROGRESS).update(
        status=TuningJob.Status.STOPPING)
    tuning_changed(tuning.id)
    tuning_advance(tuning.id)  # the trials are stopped now, not when a worker gets to it
    tuning.refresh_from_db()
    return tuning
