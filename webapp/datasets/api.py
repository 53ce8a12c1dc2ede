"""The JSON API over datasets, classes, images, labels, splits and versions (ARCHITECTURE.md)."""
from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.core.errors import ServiceError
from webapp.datasets import selectors
from webapp.datasets.models import Dataset, DatasetVersion, DeletedClass, Image, LabelClass
from webapp.datasets.services import classes as class_services
from webapp.datasets.services import labeling, versions
from webapp.datasets.services.exporting import version_images_zip
from webapp.datasets.services.ingestion import UploadRefused, uploads_from_request, uploads_ingest


def _dataset_and_input(request, dataset_id: int, form_class) -> tuple[Dataset, dict]:
    """The caller's dataset (404 otherwise) and the request body validated by ``form_class``."""
    dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
    form = form_class(data=request.data)
    form.is_valid(raise_exception=True)
    return dataset, form.validated_data


class ClassSerializer(serializers.ModelSerializer):
    image_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = LabelClass
        fields = ["id", "name", "colour", "order", "image_count"]
        read_only_fields = ["order"]


class DatasetSerializer(serializers.ModelSerializer):
    image_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Dataset
        fields = ["id", "name", "multi_label", "created", "image_count"]


class DatasetDetailSerializer(DatasetSerializer):
    classes = serializers.SerializerMethodField()
    splits = serializers.SerializerMethodField()
    image_count = serializers.SerializerMethodField()
    labeled_count = serializers.SerializerMethodField()

    class Meta(DatasetSerializer.Meta):
        fields = [*DatasetSerializer.Meta.fields, "labeled_count", "classes", "splits"]

    def get_image_count(self, dataset) -> int:
        return dataset.images.count()

    def get_labeled_count(self, dataset) -> int:
        return dataset.images.count() - selectors.unlabeled_count(dataset=dataset)

    def get_classes(self, dataset) -> list[dict]:
        return ClassSerializer(selectors.class_list(dataset=dataset), many=True).data

    def get_splits(self, dataset) -> dict[str, int]:
        counts = selectors.split_counts(dataset=dataset)
        return {"train": counts["train"], "val": counts["val"], "unassigned": counts[""]}


class ImageSerializer(serializers.ModelSerializer):
    labels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    thumbnail_url = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = ["id", "file_name", "format", "width", "height", "size", "split", "labels", "sha256", "thumbnail_url",
                  "image_url"]

    def get_thumbnail_url(self, image) -> str:
        return f"/datasets/{image.dataset_id}/images/{image.id}/thumbnail"

    def get_image_url(self, image) -> str:
        return f"/datasets/{image.dataset_id}/images/{image.id}/image"


class DeletedClassSerializer(serializers.ModelSerializer):
    image_count = serializers.SerializerMethodField()
    undo_url = serializers.SerializerMethodField()

    class Meta:
        model = DeletedClass
        fields = ["id", "name", "colour", "image_count", "deleted", "undo_url"]

    def get_image_count(self, deleted) -> int:
        return len(deleted.image_ids)

    def get_undo_url(self, deleted) -> str:
        return f"/api/datasets/{deleted.dataset_id}/classes/deleted/{deleted.id}/restore/"


class VersionSerializer(serializers.ModelSerializer):
    files = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = ["id", "dataset", "number", "created", "status", "progress", "error", "multi_label",
                  "class_names", "counts", "auto_split", "split_note", "files"]

    def get_files(self, version) -> list[str]:
        return sorted(versions.version_files(version))


class DatasetList(APIView):
    @extend_schema(responses=DatasetSerializer(many=True))
    def get(self, request):
        return Response(DatasetSerializer(selectors.dataset_list(user=request.user), many=True).data)

    @extend_schema(request=DatasetSerializer, responses=DatasetSerializer)
    def post(self, request):
        form = DatasetSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        dataset = class_services.dataset_create(owner=request.user, **form.validated_data)
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetail(APIView):
    @extend_schema(responses=DatasetDetailSerializer)
    def get(self, request, dataset_id):
        return Response(DatasetDetailSerializer(selectors.dataset_get(user=request.user, dataset_id=dataset_id)).data)

    @extend_schema(request=DatasetSerializer, responses=DatasetDetailSerializer)
    def patch(self, request, dataset_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        class_services.dataset_rename(dataset=dataset, name=str(request.data.get("name", dataset.name)))
        return Response(DatasetDetailSerializer(dataset).data)

    @extend_schema(responses={204: None})
    def delete(self, request, dataset_id):
        class_services.dataset_delete(dataset=selectors.dataset_get(user=request.user, dataset_id=dataset_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClassList(APIView):
    @extend_schema(responses=ClassSerializer(many=True))
    def get(self, request, dataset_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        return Response(ClassSerializer(selectors.class_list(dataset=dataset), many=True).data)

    @extend_schema(request=ClassSerializer, responses=ClassSerializer)
    def post(self, request, dataset_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        created = class_services.class_create(dataset=dataset, name=str(request.data.get("name", "")),
                                              colour=request.data.get("colour"))
        return Response(ClassSerializer(created).data, status=status.HTTP_201_CREATED)


class ClassDetail(APIView):
    @extend_schema(request=ClassSerializer, responses=ClassSerializer)
    def patch(self, request, dataset_id, class_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        label_class = selectors.class_get(dataset=dataset, class_id=class_id)
        class_services.class_update(label_class=label_class, name=request.data.get("name"),
                                    colour=request.data.get("colour"))
        return Response(ClassSerializer(label_class).data)

    @extend_schema(responses=DeletedClassSerializer,
                   description="Its images lose the class; POST to the answer's `undo_url` to bring it back.")
    def delete(self, request, dataset_id, class_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        deleted = class_services.class_delete(label_class=selectors.class_get(dataset=dataset, class_id=class_id))
        return Response(DeletedClassSerializer(deleted).data)


class ClassRestore(APIView):
    @extend_schema(request=None, responses={200: {"type": "object"}})
    def post(self, request, dataset_id, deleted_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        deleted = selectors.deleted_class_get(dataset=dataset, deleted_id=deleted_id)
        label_class, restored = class_services.class_restore(deleted=deleted)
        return Response({"class": ClassSerializer(label_class).data, "restored": restored})


class ClassMerge(APIView):
    class Input(serializers.Serializer):
        into = serializers.IntegerField()

    @extend_schema(request=Input, responses=ClassSerializer)
    def post(self, request, dataset_id, class_id):
        dataset, data = _dataset_and_input(request, dataset_id, self.Input)
        source = selectors.class_get(dataset=dataset, class_id=class_id)
        into = selectors.class_get(dataset=dataset, class_id=data["into"])
        class_services.class_merge(source=source, into=into)
        return Response(ClassSerializer(into).data)


class Uploads(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "paths": {"type": "array", "items": {"type": "string"}},
            "class_names": {"type": "string"}}}},
        responses={200: {"type": "object"}},
        description="Image files (with a parallel `paths` field giving each file's path relative to the chosen "
                    "folder: its folder becomes its class, a file with no folder stays unlabeled), a .zip (one folder "
                    "wrapping class folders is the chosen folder), a .lst with its images, or a .rec. A duplicate of "
                    "an unlabeled image gives it the upload's class. Reasons read `<what is wrong>: <detail>`.",
    )
    def post(self, request, dataset_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        files = request.FILES.getlist("files")
        if not files:
            raise ValidationError({"files": ["upload at least one file"]})
        class_names = [n.strip() for n in request.data.get("class_names", "").split(",") if n.strip()]
        try:
            report = uploads_ingest(dataset=dataset, uploads=uploads_from_request(files, request.data.getlist("paths")),
                                    class_names=class_names)
        except UploadRefused as refused:  # a broken .lst or .rec: nothing of the upload was kept
            reason = f"{refused.reason} (nothing of this upload was kept)"
            return Response({"error": reason, "fields": {"files": [reason]}, "accepted": 0, "duplicates": [],
                             "rejected": [{"file": refused.name, "reason": refused.reason}]},
                            status=status.HTTP_400_BAD_REQUEST)
        return Response(report.as_dict())


class ImageList(APIView):
    @extend_schema(responses=ImageSerializer(many=True), parameters=[
        OpenApiParameter("label", int, description="only images of this class id"),
        OpenApiParameter("split", str, description="train, val, or empty for unassigned"),
        OpenApiParameter("unlabeled", bool, description="only images without a class"),
        OpenApiParameter("search", str, description="only file names containing this (any case)")])
    def get(self, request, dataset_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        params = request.query_params
        try:
            label = int(params["label"]) if params.get("label") else None
        except ValueError:
            raise ValidationError({"label": ["must be a class id"]}) from None
        images = selectors.image_list(dataset=dataset, label=label, split=params.get("split"),
                                      unlabeled=params.get("unlabeled") in ("1", "true"),
                                      search=params.get("search", ""))
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(images, request, view=self)
        return paginator.get_paginated_response(ImageSerializer(page, many=True).data)


class Labels(APIView):
    class Input(serializers.Serializer):
        images = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
        set = serializers.IntegerField(required=False, allow_null=True)
        add = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
        remove = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)

        class Meta:
            ref_name = "LabelsInput"  # the schema's name: three views have an Input

    @extend_schema(request=Input, responses={200: {"type": "object"}})
    def post(self, request, dataset_id):
        dataset, data = _dataset_and_input(request, dataset_id, self.Input)
        if "set" in request.data:
            changed = labeling.labels_set(dataset=dataset, image_ids=data["images"], class_id=data.get("set"))
        else:
            changed = labeling.labels_change(dataset=dataset, image_ids=data["images"], add=data["add"],
                                             remove=data["remove"])
        return Response({"changed": changed})


class SplitView(APIView):
    class Input(serializers.Serializer):
        train_ratio = serializers.FloatField(required=False)
        seed = serializers.IntegerField(default=0)
        stratified = serializers.BooleanField(default=True)
        images = serializers.ListField(child=serializers.IntegerField(), required=False)
        split = serializers.ChoiceField(choices=["train", "val", ""], required=False)

        class Meta:
            ref_name = "SplitInput"

    @extend_schema(request=Input, responses={200: {"type": "object"}})
    def post(self, request, dataset_id):
        dataset, data = _dataset_and_input(request, dataset_id, self.Input)
        if "images" in data:
            if "split" not in data:
                raise ServiceError("give the split for these images", "split")
            return Response({"changed": labeling.split_set(dataset=dataset, image_ids=data["images"],
                                                           split=data["split"])})
        if "train_ratio" not in data:
            raise ServiceError("give train_ratio, or images and their split", "train_ratio")
        return Response(labeling.split_assign(dataset=dataset, train_ratio=data["train_ratio"],
                                              seed=data["seed"], stratified=data["stratified"]))


class VersionList(APIView):
    @extend_schema(responses=VersionSerializer(many=True))
    def get(self, request, dataset_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        return Response(VersionSerializer(dataset.versions.all(), many=True).data)

    @extend_schema(request=None, responses=VersionSerializer,
                   description="With no validation images yet, about 20% of each class is held out first (seeded); "
                               "the answer's `auto_split` and `split_note` say so.")
    def post(self, request, dataset_id):
        dataset = selectors.dataset_get(user=request.user, dataset_id=dataset_id)
        version = versions.version_freeze(dataset=dataset)
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetail(APIView):
    @extend_schema(responses=VersionSerializer)
    def get(self, request, version_id):
        return Response(VersionSerializer(selectors.version_get(user=request.user, version_id=version_id)).data)


class VersionFile(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, version_id, name):
        version = selectors.version_get(user=request.user, version_id=version_id)
        if name == "images.zip":
            path = version_images_zip(version)
        else:
            path = versions.version_files(version).get(name)
        if path is None:
            raise Http404
        return FileResponse(open(path, "rb"), as_attachment=True,
                            filename=f"dataset{version.dataset_id}-v{version.number}-{name}")
