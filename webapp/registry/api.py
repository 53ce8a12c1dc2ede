"""The JSON API of models and batch transforms (prediction itself is in ``invocation_views``)."""
from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.core import media
from webapp.registry import selectors, services
from webapp.registry.models import BatchTransform, RegisteredModel


class ModelSerializer(serializers.ModelSerializer):
    dataset_version = serializers.SerializerMethodField()
    endpoint = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = ["id", "name", "endpoint", "source", "job", "dataset_version", "state", "reason", "is_default",
                  "class_names", "num_classes", "num_layers", "image_shape", "hyperparameters", "metrics", "kept_epoch", "kept_reason",
                  "size_bytes", "created"]

    def get_dataset_version(self, model: RegisteredModel) -> int | None:
        return model.job.version_id if model.job_id else None

    def get_endpoint(self, model: RegisteredModel) -> str:
        return f"/endpoints/{model.name}/invocations"


class ModelImport(serializers.Serializer):
    artifact = serializers.FileField(help_text="a model.tar.gz trained by SageMaker or IC Studio")
    name = serializers.CharField(required=False, allow_blank=True, help_text="the endpoint name; from the file if absent")


class ModelChange(serializers.Serializer):
    name = serializers.CharField(required=False)
    is_default = serializers.BooleanField(required=False)


class TransformSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)
    output = serializers.SerializerMethodField()

    class Meta:
        model = BatchTransform
        fields = ["id", "model", "kind", "input_name", "state", "reason", "total", "done", "failed", "progress",
                  "cancel_requested", "output", "created", "finished"]

    def get_output(self, transform: BatchTransform) -> str | None:
        # A SageMaker transform job writes its .out files to S3, not a JSON Lines file here.
        if transform.kind == BatchTransform.Kind.S3 or transform.state != BatchTransform.State.SUCCEEDED:
            return None
        return f"/api/transforms/{transform.id}/output/"


class TransformInput(serializers.Serializer):
    model = serializers.IntegerField()
    input = serializers.FileField(help_text="a .zip of JPEG/PNG images, or a .rec")
    lst = serializers.FileField(required=False, help_text="the .rec's .lst, to name each line by its file")


class ModelList(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(responses=ModelSerializer(many=True))
    def get(self, request):
        return Response(ModelSerializer(selectors.model_list(user=request.user), many=True).data)

    @extend_schema(request=ModelImport, responses=ModelSerializer)
    def post(self, request):
        form = ModelImport(data=request.data)
        form.is_valid(raise_exception=True)
        model = services.model_import(owner=request.user, upload=form.validated_data["artifact"],
                                      name=form.validated_data.get("name", ""))
        return Response(ModelSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetail(APIView):
    @extend_schema(responses=ModelSerializer)
    def get(self, request, model_id):
        return Response(ModelSerializer(selectors.model_get(user=request.user, model_id=model_id)).data)

    @extend_schema(request=ModelChange, responses=ModelSerializer)
    def patch(self, request, model_id):
        model = selectors.model_get(user=request.user, model_id=model_id)
        form = ModelChange(data=request.data)
        form.is_valid(raise_exception=True)
        model = services.model_update(model=model, **form.validated_data)
        return Response(ModelSerializer(model).data)

    @extend_schema(responses={204: None})
    def delete(self, request, model_id):
        services.model_delete(model=selectors.model_get(user=request.user, model_id=model_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelArtifact(APIView):
    @extend_schema(responses={(200, "application/gzip"): bytes})
    def get(self, request, model_id):
        model = selectors.model_get(user=request.user, model_id=model_id)
        path = media.artifact_path(model)
        if not path.exists():
            raise NotFound("the model's file is gone")
        return FileResponse(open(path, "rb"), as_attachment=True, filename=f"{model.name}.model.tar.gz",
                            content_type="application/gzip")


class TransformList(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(responses=TransformSerializer(many=True))
    def get(self, request):
        return Response(TransformSerializer(selectors.transform_list(user=request.user), many=True).data)

    @extend_schema(request=TransformInput, responses=TransformSerializer)
    def post(self, request):
        form = TransformInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            model = selectors.model_get(user=request.user, model_id=data["model"])
        except Http404:
            raise ValidationError({"model": ["no such model of yours"]}) from None
        transform = services.transform_create(owner=request.user, model=model, upload=data["input"],
                                              lst_upload=data.get("lst"))
        return Response(TransformSerializer(transform).data, status=status.HTTP_201_CREATED)


class TransformDetail(APIView):
    @extend_schema(responses=TransformSerializer)
    def get(self, request, transform_id):
        return Response(TransformSerializer(selectors.transform_get(user=request.user, transform_id=transform_id)).data)


class TransformCancel(APIView):
    @extend_schema(request=None, responses=TransformSerializer,
                   description="A queued transform is cancelled at once; a running one stops after its current batch")
    def post(self, request, transform_id):
        transform = services.transform_cancel(
            transform=selectors.transform_get(user=request.user, transform_id=transform_id))
        return Response(TransformSerializer(transform).data)


class TransformOutput(APIView):
    @extend_schema(responses={(200, "application/jsonlines"): bytes})
    def get(self, request, transform_id):
        transform = selectors.transform_get(user=request.user, transform_id=transform_id)
        if transform.state != BatchTransform.State.SUCCEEDED:
            raise ValidationError({"transform": [f"the transform is {transform.state}; its output comes when it succeeds"]})
        name = Path(transform.input_name).stem + ".jsonl"
        return FileResponse(open(media.absolute(transform.output), "rb"), as_attachment=True,
                            filename=name, content_type="application/jsonlines")
