"""The JSON API of tuning jobs: what the Tune page does, for scripts. Each answer is the summary the page
draws (webapp/tuning/selectors.py); only the owner's tuning jobs exist for a user (another's: 404)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.datasets import selectors as dataset_selectors
from webapp.tuning import selectors
from webapp.tuning.forms import DEFAULT_MAX_JOBS, DEFAULT_MAX_PARALLEL, default_name, recommended_ranges
from webapp.tuning.models import TuningJob

SUMMARY = {"type": "object", "description": "status, counts, the best trial and each trial (number, job, state, "
                                            "tuned hyperparameters, objective, early_stopped)"}


class TuningInput(serializers.Serializer):
    version = serializers.IntegerField(help_text="the dataset version every trial trains on")
    name = serializers.CharField(max_length=32, required=False, help_text="default: <dataset>-v<n>-tune-<k>")
    strategy = serializers.ChoiceField(choices=TuningJob.Strategy.values, default=TuningJob.Strategy.BAYESIAN)
    ranges = serializers.JSONField(required=False, help_text="SageMaker's ParameterRanges; default: AWS's "
                                                             "recommended learning_rate, mini_batch_size, optimizer")
    static_hyperparameters = serializers.JSONField(required=False, help_text="default: the training form's "
                                                                             "balanced preset for the version")
    max_jobs = serializers.IntegerField(min_value=1, default=DEFAULT_MAX_JOBS)
    max_parallel = serializers.IntegerField(min_value=1, default=DEFAULT_MAX_PARALLEL)
    early_stopping = serializers.BooleanField(default=True)

    def validate_ranges(self, value):
        if not isinstance(value, dict):
            raise ValidationError("must be a JSON object in SageMaker's ParameterRanges shape")
        return value

    def validate_static_hyperparameters(self, value):
        if not isinstance(value, dict):
            raise ValidationError("must be a JSON object of hyperparameter names and values")
        return {str(k): str(v) for k, v in value.items()}


def _summary(tuning: TuningJob) -> dict:
    return selectors.tuning_summary(tuning=tuning)


class TuningJobList(APIView):
    @extend_schema(operation_id="tuning_jobs_list", responses={200: {"type": "array", "items": SUMMARY}})
    def get(self, request):
        return Response([_summary(t) for t in selectors.tuning_list(user=request.user)])

    @extend_schema(request=TuningInput, responses={201: SUMMARY})
    def post(self, request):
        from webapp.tuning import services
        from webapp.tuning.views import shared_hyperparameters

        form = TuningInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        version = dataset_selectors.version_get(user=request.user, version_id=data["version"])
        static, _, shape = shared_hyperparameters(version=version)
        ranges = data.get("ranges") or recommended_ranges(train=shape.train)
        if "static_hyperparameters" in data:
            static = data["static_hyperparameters"]
        else:
            tuned = set(selectors.tuned_names(ranges))
            static = {k: v for k, v in static.items() if k not in tuned}
        name = data.get("name") or default_name(
            version=version, taken=set(selectors.tuning_list(user=request.user).values_list("name", flat=True)))
        tuning = services.tuning_create(owner=request.user, name=name, strategy=data["strategy"], ranges=ranges,
                                        static_hyperparameters=static, max_jobs=data["max_jobs"],
                                        max_parallel=data["max_parallel"], early_stopping=data["early_stopping"],
                                        version=version)
        return Response(_summary(tuning), status=status.HTTP_201_CREATED)


class TuningJobDetail(APIView):
    @extend_schema(responses={200: SUMMARY})
    def get(self, request, tuning_id):
        return Response(_summary(selectors.tuning_get(user=request.user, tuning_id=tuning_id)))


class TuningJobStop(APIView):
    @extend_schema(request=None, responses={200: SUMMARY})
    def post(self, request, tuning_id):
        tuning = selectors.tuning_get(user=request.user, tuning_id=tuning_id)
        from webapp.tuning import services

        return Response(_summary(services.tuning_stop(tuning=tuning)))
