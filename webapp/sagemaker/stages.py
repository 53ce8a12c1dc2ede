"""The worker's side of an API job: its stages (SecondaryStatusTransitions), the channels downloaded from the
store in SageMaker's ``/opt/ml/input/data/<channel>/`` layout under the job's folder and made into the
``.rec`` files training reads, and the model uploaded to ``<S3OutputPath>/<job>/output/model.tar.gz``.

A problem with the data ends the job Failed with a ``ClientError: ...`` FailureReason, as SageMaker words it."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from classifier.errors import ClassifierError
from webapp.core import media
from webapp.sagemaker import channels
from webapp.sagemaker.models import ApiJob
from webapp.training.running import Inputs

MESSAGES = {"Downloading": "Downloading input data",
            "Training": "Training image download completed. Training in progress.",
            "Uploading": "Uploading generated training model"}


class ChannelError(ClassifierError):
    """The job's data cannot be trained on; the message is its FailureReason."""

    def __init__(self, message: str):
        super().__init__(f"ClientError: {message}")


def enter(job_id: int, status: str) -> None:
    """The job is now at ``status``: the previous stage ends now."""
    now = time.time()
    with transaction.atomic():
        api = ApiJob.objects.select_for_update().get(job_id=job_id)
        rows = list(api.transitions)
        if rows and rows[-1]["Status"] == status:
            return  # a resumed job passing the same stage again
        if rows:
            rows[-1] = {**rows[-1], "EndTime": now}
        rows.append({"Status": status, "StartTime": now, "StatusMessage": MESSAGES[status]})
        api.transitions, api.secondary_status = rows, status
        if status == "Training" and api.training_started is None:
            api.training_started = timezone.now()
        api.save()


def _safe(relative: str) -> str:
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ChannelError(f"the object key {relative!r} climbs out of its channel")
    return "/".join(parts)


def _owned(owner, bucket: str, uri: str) -> None:
    from webapp.s3.selectors import bucket_of

    if bucket_of(user=owner, name=bucket) is None:
        raise ChannelError(f"Data download failed: access denied to {uri}")


def _download_channel(owner, channel: dict, target: Path) -> list[Path]:
    """Every object of the channel under ``target``, named by its key after the prefix."""
    from webapp.core import object_store

    source = channel["DataSource"]["S3DataSource"]
    location = channels.s3_location(source["S3Uri"], "S3Uri")
    _owned(owner, location.bucket, location.uri)
    kind = source["S3DataType"]
    files = []
    if kind == "S3Prefix":
        for item in object_store.list_objects(location.bucket, location.key):
            if item["Key"].endswith("/"):
                continue
            relative = _safe(item["Key"][len(location.key):]) or item["Key"].rsplit("/", 1)[-1]
            files.append(object_store.download_file(location.bucket, item["Key"], target / relative))
        if not files:
            raise ChannelError(f"No S3 objects found under S3 URL \"{location.uri}\" given in input data source.")
    elif kind == "ManifestFile":
        try:
            base, keys = channels.manifest_parse(object_store.get_bytes(location.bucket, location.key), location)
        except ValueError as error:
            raise ChannelError(str(error)) from None
        _owned(owner, base.bucket, base.uri)
        for key in keys:
            files.append(object_store.download_file(base.bucket, base.key + key, target / _safe(key)))
    else:  # AugmentedManifestFile: the manifest itself; its images are fetched as it is read
        files.append(object_store.download_file(location.bucket, location.key, target / "manifest.json"))
    return files


def _records(name: str, files: list[Path], work: Path) -> Path:
    """The channel's ``.rec``: several are read one after the other, as SageMaker reads a prefix of them."""
    recs = sorted(p for p in files if p.suffix == ".rec") or sorted(p for p in files if p.suffix != ".idx")
    if len(recs) == 1:
        return recs[0]
    joined = work / f"{name}.rec"
    with open(joined, "wb") as out:
        for rec in recs:
            with open(rec, "rb") as part:
                shutil.copyfileobj(part, out)
    return joined


def _check_label_width(name: str, rec: Path, hp) -> None:
    from classifier import recordio
    from classifier.errors import RecordIOError

    try:
        with recordio.RecordReader(rec) as reader:
            first = next(iter(reader), None)
        if first is None:
            raise ChannelError(f"the {name} channel holds no records")
        header, _ = recordio.unpack_record(first)
    except RecordIOError as error:
        raise ChannelError(f"the {name} channel is not RecordIO: {error}") from None
    width = header.flag if header.flag else 1
    expected = hp.num_classes if hp.multi_label else 1
    if width != expected:
        raise ChannelError(f"the {name} channel's records have a label width of {width}, but the hyperparameters "
                           f"need {expected} (multi_label={int(hp.multi_label)}, num_classes={hp.num_classes}): pack "
                           f"{'one 0/1 label per class (im2rec --pack-label)' if hp.multi_label else 'one class index per image'}")


def _images_packed(name: str, root: Path, lists: list[Path], work: Path, hp) -> Path:
    from classifier import data

    joined = work / f"{name}.lst"
    with open(joined, "w", encoding="utf-8") as out:
        for lst in sorted(lists):
            text = lst.read_text(encoding="utf-8")
            out.write(text if text.endswith("\n") or not text else text + "\n")
    try:
        return data.pack_image_channel(joined, root, work, resize=hp.resize or 0, name=name)
    except ClassifierError as error:
        raise ChannelError(f"the {name}_lst channel: {error}") from None


def _manifest_packed(owner, name: str, channel: dict, manifest: Path, work: Path, hp) -> Path:
    """Ground Truth's output as it is: a JSON object a line, the image's S3 URI and its label(s) under the two
    AttributeNames; a multi-label job's label is a list of class ids."""
    from webapp.core import object_store

    image_attribute, label_attribute = channel["DataSource"]["S3DataSource"]["AttributeNames"]
    images = manifest.parent / "images"
    rows, owned = [], set()
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            uri, label = entry[image_attribute], entry[label_attribute]
        except (ValueError, KeyError, TypeError) as error:
            raise ChannelError(f"the {name} manifest, line {number}: needs '{image_attribute}' and "
                               f"'{label_attribute}' ({error})") from None
        ids = [int(v) for v in label] if isinstance(label, list) else [int(float(label))]
        if any(not 0 <= i < hp.num_classes for i in ids):
            raise ChannelError(f"the {name} manifest, line {number}: label {label} is outside 0..{hp.num_classes - 1}")
        labels = [1.0 if i in ids else 0.0 for i in range(hp.num_classes)] if hp.multi_label else [float(ids[0])]
        location = channels.s3_location(uri, f"line {number}'s {image_attribute}")
        if location.bucket not in owned:  # once a bucket, not once an image
            _owned(owner, location.bucket, location.uri)
            owned.add(location.bucket)
        suffix = Path(location.key).suffix or ".jpg"
        object_store.download_file(location.bucket, location.key, images / f"{number}{suffix}")
        rows.append("\t".join([str(number), *(f"{v:f}" for v in labels), f"{number}{suffix}"]) + "\n")
    if not rows:
        raise ChannelError(f"the {name} manifest lists no images")
    listing = work / f"{name}-manifest.lst"
    listing.write_text("".join(rows), encoding="utf-8")
    return _images_packed(name, images, [listing], work, hp)


def download(job, api: ApiJob, hp) -> Inputs:
    """Downloading: every channel into ``jobs/<id>/input/data/<channel>/``, then the records training reads."""
    enter(job.id, "Downloading")
    base = media.job_dir(job) / "input" / "data"
    work = media.job_work_dir(job) / "records"
    shutil.rmtree(base, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    by_name = {channel["ChannelName"]: channel for channel in api.request["InputDataConfig"]}
    files = {name: _download_channel(job.owner, channel, base / name) for name, channel in by_name.items()}
    records, packed = {}, False
    for name in channels.DATA_CHANNELS:
        channel = by_name[name]
        if channel["DataSource"]["S3DataSource"]["S3DataType"] == "AugmentedManifestFile":
            records[name], packed = _manifest_packed(job.owner, name, channel, files[name][0], work, hp), True
        elif f"{name}_lst" in by_name:
            records[name], packed = _images_packed(name, base / name, files[f"{name}_lst"], work, hp), True
        else:
            records[name] = _records(name, files[name], work)
        _check_label_width(name, records[name], hp)
    model = sorted(files.get("model", []))
    return Inputs(records["train"], records["validation"], model[0] if model else None, packed)


def upload(job, api: ApiJob, artifact: Path) -> str:
    """Uploading: the model to ``<S3OutputPath>/<job>/output/model.tar.gz``; its S3 URL."""
    from webapp.core import object_store

    enter(job.id, "Uploading")
    location = channels.s3_location(api.request["OutputDataConfig"]["S3OutputPath"], "S3OutputPath")
    _owned(job.owner, location.bucket, location.uri)
    key = "/".join(part for part in (location.key.strip("/"), job.name, "output", "model.tar.gz") if part)
    object_store.upload_file(artifact, location.bucket, key, content_type="application/x-tar")
    uri = f"s3://{location.bucket}/{key}"
    ApiJob.objects.filter(job_id=job.id).update(model_artifacts=uri)
    return uri


def api_job_of(job) -> ApiJob | None:
    return ApiJob.objects.filter(job_id=job.id).first()


def max_runtime_deadline(job, api: ApiJob | None) -> float | None:
    """Epoch seconds at which MaxRuntimeInSeconds runs out, counted from when the job started."""
    seconds = ((api.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds") if api else None)
    if not seconds:
        return None
    started = job.started or timezone.now()
    return started.timestamp() + int(seconds)


def max_runtime_exceeded(job_id: int) -> None:
    ApiJob.objects.filter(job_id=job_id).update(max_runtime_exceeded=True)
