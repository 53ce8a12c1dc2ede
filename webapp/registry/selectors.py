"""Reads of the registry, always through the owner."""
from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from webapp.registry.models import BatchTransform, RegisteredModel


def model_list(*, user) -> QuerySet[RegisteredModel]:
    # job__trial__tuning: the list marks the best model of a tuning job, one query for the page, not two a row.
    return RegisteredModel.objects.filter(owner=user).select_related("job__version__dataset", "job__trial__tuning")


def model_get(*, user, model_id: int) -> RegisteredModel:
    return get_object_or_404(model_list(user=user), id=model_id)


def transform_list(*, user) -> QuerySet[BatchTransform]:
    return BatchTransform.objects.filter(owner=user).select_related("model")


def transform_get(*, user, transform_id: int) -> BatchTransform:
    return get_object_or_404(transform_list(user=user), id=transform_id)
