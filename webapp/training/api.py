"""The JSON API of training jobs."""
from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.datasets import selectors as dataset_selectors
from webapp.training import services
from webapp.training.models import JobEvent, TrainingJob
from webapp.training.selectors import evaluation_for_page, job_get, kept_checkpoint, queue_place


class JobSerializer(serializers.ModelSerializer):
    queue = serializers.SerializerMethodField(help_text="a queued job's place: position, jobs ahead (yours by id)")
    checkpoint = serializers.SerializerMethodField(help_text="a cancelled job's kept checkpoint: epochs finished "
                                                             "and the epoch a model made of it would hold")

    class Meta:
        model = TrainingJob
        fields = ["id", "name", "version", "mode", "hyperparameters", "state", "reason", "worker", "epoch", "progress", "eta",
                  "images_per_sec", "metrics", "kept_epoch", "kept_metrics", "kept_reason", "artifact", "last_seq",
                  "created", "started", "finished", "queue", "checkpoint"]

    def get_queue(self, job: TrainingJob) -> dict | None:
        return queue_place(job=job)

    def get_checkpoint(self, job: TrainingJob) -> dict | None:
        return kept_checkpoint(job=job) if job.state == TrainingJob.State.CANCELLED else None


class JobInput(serializers.Serializer):
    version = serializers.IntegerField()
    # A JSON object; in a multipart request (with base_upload) its JSON text.
    hyperparameters = serializers.JSONField(default=dict)
    mode = serializers.ChoiceField(choices=TrainingJob.Mode.values, default=TrainingJob.Mode.FULL)
    base_model = serializers.IntegerField(required=False, help_text="a succeeded job of yours, for incremental training")
    base_upload = serializers.FileField(required=False, help_text="or a SageMaker model.tar.gz (multipart)")


class JobList(APIView):
    @extend_schema(responses=JobSerializer(many=True))
    def get(self, request):
        return Response(JobSerializer(TrainingJob.objects.filter(owner=request.user), many=True).data)

    @extend_schema(request=JobInput, responses=JobSerializer)
    def post(self, request):
        form = JobInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if isinstance(data["hyperparameters"], str):
            try:
                data["hyperparameters"] = json.loads(data["hyperparameters"])
            except ValueError:
                raise ValidationError({"hyperparameters": ["must be a JSON object"]}) from None
        if not isinstance(data["hyperparameters"], dict):
            raise ValidationError({"hyperparameters": ["must be a JSON object"]})
        version = dataset_selectors.version_get(user=request.user, version_id=data["version"])
        base = ""
        if data.get("base_upload"):
            base = services.base_model_store(owner=request.user, upload=data["base_upload"])
        elif data.get("base_model"):
            base_job = job_get(user=request.user, job_id=data["base_model"])
            if not base_job.artifact:
                raise ValidationError({"base_model": ["that job has no model"]})
            base = base_job.artifact
        job = services.job_create(owner=request.user, version=version, hyperparameters=data["hyperparameters"],
                                  mode=data["mode"], base_artifact=base)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetail(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request, job_id):
        return Response(JobSerializer(job_get(user=request.user, job_id=job_id)).data)


class JobCancel(APIView):
    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request, job_id):
        job = services.job_cancel(job=job_get(user=request.user, job_id=job_id))
        return Response(JobSerializer(job).data)


class JobResume(APIView):
    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request, job_id):
        job = services.job_resume(job=job_get(user=request.user, job_id=job_id))
        return Response(JobSerializer(job).data)


class JobModelMake(APIView):
    @extend_schema(request=None, responses=JobSerializer, description="A model of what a cancelled job kept")
    def post(self, request, job_id):
        job = services.job_model_make(job=job_get(user=request.user, job_id=job_id))
        return Response(JobSerializer(job).data)


class JobMetrics(APIView):
    @extend_schema(responses={200: {"type": "array", "items": {"type": "object"}}})
    def get(self, request, job_id):
        job = job_get(user=request.user, job_id=job_id)
        try:
            after = int(request.query_params.get("after", 0))
        except ValueError:
            raise ValidationError({"after": ["must be a sequence number"]}) from None
        return Response([e.message() for e in JobEvent.objects.filter(job=job, seq__gt=after)])


class JobEvaluation(APIView):
    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request, job_id):
        evaluation = evaluation_for_page(job=job_get(user=request.user, job_id=job_id))
        if evaluation is None:
            raise ValidationError({"job": ["no evaluation yet: the job has not succeeded"]})
        return Response(evaluation)
