"""What SageMaker's List operations share: ``NameContains``, the creation and modification time bounds,
``SortBy``/``SortOrder``, ``StatusEquals`` and ``MaxResults``/``NextToken`` pages, over a user's rows."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

TIME_BOUNDS = {"CreationTimeAfter": "created__gt", "CreationTimeBefore": "created__lt",
               "LastModifiedTimeAfter": "last_modified__gt", "LastModifiedTimeBefore": "last_modified__lt"}


def listed(rows, request: dict, *, sort_fields: dict[str, str] | None = None,
           status_of: Callable | None = None) -> tuple[list, str | None]:
    """The page of ``rows`` (a queryset) the request asks for, and the NextToken after it (None on the last).
    ``sort_fields``: SortBy values to fields (``created`` otherwise); ``status_of``: a row's status, for
    StatusEquals (statuses are worked out from several fields, so they are compared after the query)."""
    if request.get("NameContains"):
        rows = rows.filter(name__icontains=request["NameContains"])
    fields = {field.name for field in rows.model._meta.get_fields()}
    for member, lookup in TIME_BOUNDS.items():
        # A bound on a time the rows do not keep (a model's last change) is left out, not an error.
        if request.get(member) is not None and lookup.split("__")[0] in fields:
            rows = rows.filter(**{lookup: datetime.fromtimestamp(float(request[member]), timezone.utc)})
    key = (sort_fields or {"Name": "name"}).get(request.get("SortBy"), "created")
    rows = list(rows.order_by(key if request.get("SortOrder") == "Ascending" else f"-{key}", "id"))
    if request.get("StatusEquals") and status_of is not None:
        rows = [row for row in rows if status_of(row) == request["StatusEquals"]]
    start = int(request.get("NextToken") or 0)
    limit = max(1, min(int(request.get("MaxResults") or 10), 100))
    return rows[start:start + limit], (str(start + limit) if start + limit < len(rows) else None)


def with_token(answer: dict, token: str | None) -> dict:
    return {**answer, "NextToken": token} if token else answer
