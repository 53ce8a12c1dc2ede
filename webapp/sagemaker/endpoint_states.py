"""An endpoint's life between its rows and the serving workers: which models the workers keep warm, and when
an endpoint goes InService (or Failed), or an update switches over.

The web side writes the whole set of wanted models (``serving_queues.WANTED``: each artifact with the instance
count its endpoints ask for) after every change; each serving worker loads the ones fewer workers hold than
asked (workers/serving_worker.py) and lists what it holds in its heartbeat, or reports a model it cannot load
(``LOAD_FAILED``). An endpoint's status follows from those, read when it is looked at (DescribeEndpoint, an
invocation, its model's page): no task sleeps waiting for a worker.

UpdateEndpoint keeps serving the old variants while the new ones warm (``pending_variants``), then swaps them
in one row update, so no request meets a cold or missing model.
"""
from __future__ import annotations

import json
import os
import shutil

import redis
from django.conf import settings
from django.db import transaction

from webapp.core import media
from webapp.registry.running import plain
from webapp.registry.serving_queues import LOAD_FAILED, WANTED, WORKER_PREFIX
from webapp.sagemaker.models import Endpoint

LIVE = (Endpoint.Status.CREATING, Endpoint.Status.IN_SERVICE, Endpoint.Status.UPDATING)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def served_path(variant: dict) -> str:
    """The file the serving workers know a variant's model by (absolute, resolved: their cache's key)."""
    return str(media.absolute(variant["artifact"]).resolve())


def link_model(endpoint: Endpoint, model) -> str:
    """The endpoint's own link to ``model``'s file (relative to the media root): a hard link, a copy where the
    file system cannot link."""
    relative = media.endpoint_artifact_relative(endpoint, model.id)
    target = media.absolute(relative)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        draft = target.with_name(f".{target.name}.part")
        draft.unlink(missing_ok=True)
        try:
            os.link(media.artifact_path(model), draft)
        except OSError:
            shutil.copyfile(media.artifact_path(model), draft)
        draft.replace(target)
    return relative


def unlink_all(endpoint: Endpoint) -> None:
    shutil.rmtree(media.endpoint_dir(endpoint), ignore_errors=True)


def wanted_publish() -> None:
    """Every live endpoint's models, with the largest instance count asked of each, as the workers read them."""
    wanted: dict[str, int] = {}
    for endpoint in Endpoint.objects.filter(status__in=LIVE).only("variants", "pending_variants"):
        for variant in [*endpoint.variants, *endpoint.pending_variants]:
            path = served_path(variant)
            wanted[path] = max(wanted.get(path, 0), int(variant.get("InitialInstanceCount", 1)))
    pipe = _redis().pipeline(transaction=True)  # one swap: a worker never reads a half-written set
    pipe.delete(WANTED)
    if wanted:
        pipe.hset(WANTED, mapping={path: json.dumps({"count": count}) for path, count in wanted.items()})
    pipe.execute()


def failures_forget(variants: list[dict]) -> None:
    """A model made into an endpoint anew is tried again, whatever a worker found before."""
    paths = [served_path(variant) for variant in variants]
    if paths:
        _redis().hdel(LOAD_FAILED, *paths)


def after_change() -> None:
    """Publish the wanted set once the change that altered it is committed."""
    transaction.on_commit(wanted_publish)


def holders() -> dict[str, int]:
    """How many live serving workers hold each model, from their heartbeats."""
    client = _redis()
    counts: dict[str, int] = {}
    for key in client.scan_iter(match=WORKER_PREFIX + "*", count=100):
        beat = client.get(key)
        for path in json.loads(beat).get("models", []) if beat else []:
            counts[path] = counts.get(path, 0) + 1
    return counts


def _verdict(variants: list[dict], held: dict[str, int], failed: dict[bytes, bytes]) -> str | None:
    """None while warming; "" once every variant is warm somewhere; else why one cannot load."""
    for variant in variants:
        path = served_path(variant)
        reason = failed.get(path.encode())
        if reason is not None:
            # The worker's words name files; the user knows the model by its name, and no server path.
            words = plain(reason.decode(), (path, f"model {variant['ModelName']}"))
            return f"Model {variant['ModelName']} of variant {variant['VariantName']}: {words}"
    return "" if all(held.get(served_path(variant)) for variant in variants) else None


def refresh(endpoint: Endpoint) -> Endpoint:
    """The endpoint, its Creating or Updating settled if the workers have answered: InService once every
    variant's model is warm; Failed (or, for an update, back to the old config with the reason, as AWS rolls
    back) when a model cannot load."""
    if endpoint.status not in (Endpoint.Status.CREATING, Endpoint.Status.UPDATING):
        return endpoint
    updating = endpoint.status == Endpoint.Status.UPDATING
    try:
        verdict = _verdict(endpoint.pending_variants if updating else endpoint.variants, holders(),
                           _redis().hgetall(LOAD_FAILED))
    except redis.RedisError:
        return endpoint  # no answer from the workers' side: still warming, as far as anyone can tell
    if verdict is None:
        return endpoint
    with transaction.atomic():
        row = Endpoint.objects.select_for_update().get(id=endpoint.id)
        if row.status != endpoint.status:  # settled by another request meanwhile
            return row
        if not updating:
            row.status, row.failure_reason = (Endpoint.Status.FAILED, verdict) if verdict else (
                Endpoint.Status.IN_SERVICE, "")
        elif verdict:
            row.status, row.failure_reason = Endpoint.Status.IN_SERVICE, f"The update failed. {verdict}"
        else:
            row.variants, row.config_name, row.failure_reason = row.pending_variants, row.pending_config_name, ""
            row.status = Endpoint.Status.IN_SERVICE
        if updating:
            row.pending_variants, row.pending_config_name = [], ""
        row.save()
        after_change()
    return row


def current_instances(endpoint: Endpoint, variant: dict, held: dict[str, int] | None = None) -> int:
    """How many serving workers hold a variant's model now (DescribeEndpoint's CurrentInstanceCount)."""
    if endpoint.status not in (Endpoint.Status.IN_SERVICE, Endpoint.Status.UPDATING):
        return 0
    try:
        held = holders() if held is None else held
    except redis.RedisError:
        return 0
    return min(held.get(served_path(variant), 0), int(variant.get("InitialInstanceCount", 1)))


def serving(model) -> list[Endpoint]:
    """The owner's endpoints serving ``model`` now or after their update (its page lists them), settled."""
    endpoints = Endpoint.objects.filter(owner_id=model.owner_id).exclude(status=Endpoint.Status.DELETING)
    return [refresh(endpoint) for endpoint in endpoints
            if any(variant.get("model") == model.id for variant in [*endpoint.variants, *endpoint.pending_variants])]
