"""Classes, labels, splits, and versions built by a real Celery worker into files MXNet reads."""
from __future__ import annotations

import io
import time
import zipfile

import pytest

from classifier import lst, recordio
from tests.webapp.conftest import jpeg_bytes, upload
from webapp.datasets.models import DatasetVersion

pytestmark = pytest.mark.django_db


def _images(api, dataset_id, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return api.get(f"/api/datasets/{dataset_id}/images/?{query}").json()["results"]


def _class_ids(api, dataset_id):
    return {c["name"]: c["id"] for c in api.get(f"/api/datasets/{dataset_id}/classes/").json()}


def test_classes_add_rename_recolour_merge_delete(api, dataset):
    d = dataset["id"]
    upload(api, d, {"cat/1.jpg": jpeg_bytes(seed=1), "kitty/2.jpg": jpeg_bytes(seed=2), "dog/3.jpg": jpeg_bytes(seed=3)})
    ids = _class_ids(api, d)
    bird = api.post(f"/api/datasets/{d}/classes/", {"name": "bird"}, format="json").json()
    assert api.post(f"/api/datasets/{d}/classes/", {"name": "bird"}, format="json").json() == {
        "error": "invalid input: name: there is already a class named 'bird'", "fields": {"name": ["there is already a class named 'bird'"]}}
    changed = api.patch(f"/api/datasets/{d}/classes/{bird['id']}/", {"name": "parrot", "colour": "#123456"}, format="json").json()
    assert (changed["name"], changed["colour"]) == ("parrot", "#123456")
    api.post(f"/api/datasets/{d}/classes/{ids['kitty']}/merge/", {"into": ids["cat"]}, format="json")
    counts = {c["name"]: c["image_count"] for c in api.get(f"/api/datasets/{d}/classes/").json()}
    assert counts == {"cat": 2, "dog": 1, "parrot": 0}
    assert api.delete(f"/api/datasets/{d}/classes/{ids['dog']}/").status_code == 204
    assert len(_images(api, d, unlabeled=1)) == 1


def test_labels_set_add_remove(api):
    d = api.post("/api/datasets/", {"name": "tags", "multi_label": True}, format="json").json()["id"]
    upload(api, d, {"a.jpg": jpeg_bytes(seed=1), "b.jpg": jpeg_bytes(seed=2)})
    sky = api.post(f"/api/datasets/{d}/classes/", {"name": "sky"}, format="json").json()["id"]
    sea = api.post(f"/api/datasets/{d}/classes/", {"name": "sea"}, format="json").json()["id"]
    ids = [image["id"] for image in _images(api, d)]
    api.post(f"/api/datasets/{d}/labels/", {"images": ids, "add": [sky, sea]}, format="json")
    api.post(f"/api/datasets/{d}/labels/", {"images": ids[:1], "remove": [sea]}, format="json")
    labels = {image["id"]: sorted(image["labels"]) for image in _images(api, d)}
    assert labels == {ids[0]: [sky], ids[1]: sorted([sky, sea])}
    api.post(f"/api/datasets/{d}/labels/", {"images": ids, "set": None}, format="json")
    assert len(_images(api, d, unlabeled=1)) == 2
    response = api.post(f"/api/datasets/{d}/labels/", {"images": [999999], "set": sky}, format="json")
    assert response.status_code == 400 and response.json()["fields"] == {"images": ["some images are not in this dataset"]}


def test_stratified_split_is_fixed_by_its_seed_and_can_be_set_by_hand(api, dataset):
    d = dataset["id"]
    upload(api, d, {f"{c}/{i}.jpg": jpeg_bytes(seed=100 * n + i) for n, c in enumerate(("a", "b")) for i in range(10)})
    first = api.post(f"/api/datasets/{d}/split/", {"train_ratio": 0.8, "seed": 7}, format="json").json()
    assert first == {"train": 16, "val": 4}
    val_a = {i["id"] for i in _images(api, d, split="val")}
    api.post(f"/api/datasets/{d}/split/", {"train_ratio": 0.8, "seed": 7}, format="json")
    assert {i["id"] for i in _images(api, d, split="val")} == val_a
    per_class = {name: len(_images(api, d, split="val", label=cid)) for name, cid in _class_ids(api, d).items()}
    assert per_class == {"a": 2, "b": 2}
    moved = next(iter(val_a))
    api.post(f"/api/datasets/{d}/split/", {"images": [moved], "split": "train"}, format="json")
    assert len(_images(api, d, split="val")) == 3
    assert api.post(f"/api/datasets/{d}/split/", {"train_ratio": 1.5}, format="json").status_code == 400


def _wait_for(version_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = DatasetVersion.objects.get(id=version_id)
        if version.status in ("ready", "failed"):
            return version
        time.sleep(0.2)
    raise AssertionError("the version was not built in time")


def test_frozen_version_is_built_by_a_worker_and_never_changes(api, dataset, worker, tmp_path):
    d = dataset["id"]
    upload(api, d, {f"{c}/{i}.jpg": jpeg_bytes(seed=10 * n + i) for n, c in enumerate(("cat", "dog")) for i in range(5)})
    api.post(f"/api/datasets/{d}/split/", {"train_ratio": 0.6, "seed": 1}, format="json")
    frozen = api.post(f"/api/datasets/{d}/versions/").json()
    assert frozen["counts"]["images"] == {"train": 6, "val": 4}
    version = _wait_for(frozen["id"])
    assert version.status == "ready", version.error
    detail = api.get(f"/api/versions/{frozen['id']}/").json()
    assert detail["files"] == ["train.idx", "train.lst", "train.rec", "val.idx", "val.lst", "val.rec"]
    assert detail["progress"] == 1.0

    # Relabel everything afterwards: the frozen version keeps its labels.
    ids = [image["id"] for image in _images(api, d)]
    api.post(f"/api/datasets/{d}/labels/", {"images": ids, "set": _class_ids(api, d)["cat"]}, format="json")
    listed = api.get(f"/api/versions/{frozen['id']}/files/train.lst")
    rows = lst.read_lst(_save(listed, tmp_path / "train.lst"), num_classes=2)
    with recordio.IndexedRecordReader(_save(api.get(f"/api/versions/{frozen['id']}/files/train.rec"), tmp_path / "train.rec"),
                                      _save(api.get(f"/api/versions/{frozen['id']}/files/train.idx"), tmp_path / "train.idx")) as rec:
        labels = [recordio.unpack_record(rec.read(row.index))[0].label for row in rows]
    assert sorted(labels) == sorted(row.labels[0] for row in rows)
    assert {row.labels[0] for row in rows} == {0.0, 1.0}  # both classes, though everything is a cat now

    archive = zipfile.ZipFile(io.BytesIO(b"".join(api.get(f"/api/versions/{frozen['id']}/files/images.zip").streaming_content)))
    names = archive.namelist()
    assert len(names) == 10 and sum(n.startswith("train/dog/") for n in names) == 3


def _save(response, path):
    path.write_bytes(b"".join(response.streaming_content))
    return path


def test_freezing_needs_labeled_images(api, dataset):
    response = api.post(f"/api/datasets/{dataset['id']}/versions/")
    assert response.status_code == 400 and "label some images" in response.json()["error"]


def test_class_colours_must_be_hex_colours(api, dataset):
    response = api.post(f"/api/datasets/{dataset['id']}/classes/", {"name": "x", "colour": "red;background:url(x)"},
                        format="json")
    assert response.status_code == 400 and response.json()["fields"] == {"colour": ["a colour is written #rrggbb"]}


def test_a_dataset_whose_versions_trained_models_is_not_deleted_behind_them(api, dataset, alice):
    from webapp.training.models import TrainingJob

    upload(api, dataset["id"], {"cats/a.jpg": jpeg_bytes()})
    version = api.post(f"/api/datasets/{dataset['id']}/versions/").json()["id"]
    TrainingJob.objects.create(owner=alice, version_id=version, hyperparameters={})
    response = api.delete(f"/api/datasets/{dataset['id']}/")
    assert response.status_code == 400 and "delete them first" in response.json()["error"]
    assert api.get(f"/api/datasets/{dataset['id']}/").status_code == 200
