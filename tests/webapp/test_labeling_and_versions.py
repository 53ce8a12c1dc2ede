"""Classes, labels, splits, and versions built by a real Celery worker into files MXNet reads."""
from __future__ import annotations

import io
import time
import zipfile

import pytest

from classifier import lst, recordio
from tests.support.api import upload
from tests.support.images import jpeg_bytes, zip_bytes
from webapp.datasets.models import DatasetVersion
from webapp.datasets.services.versions import version_directory

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
    assert api.delete(f"/api/datasets/{d}/classes/{ids['dog']}/").status_code == 200
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

    upload(api, dataset["id"], {"cats/a.jpg": jpeg_bytes(), "cats/b.jpg": jpeg_bytes(seed=1)})
    version = api.post(f"/api/datasets/{dataset['id']}/versions/").json()["id"]
    TrainingJob.objects.create(owner=alice, version_id=version, hyperparameters={})
    response = api.delete(f"/api/datasets/{dataset['id']}/")
    assert response.status_code == 400 and "delete them first" in response.json()["error"]
    assert api.get(f"/api/datasets/{dataset['id']}/").status_code == 200


def _val_per_class(version) -> dict[str, int]:
    return version["counts"]["classes"]["val"]


def test_freezing_without_a_split_holds_out_a_stratified_seeded_validation_set_and_says_so(api, dataset):
    d = dataset["id"]
    sizes = {"cat": 10, "dog": 5, "owl": 2, "yak": 1}
    upload(api, d, {f"{name}/{i}.jpg": jpeg_bytes(seed=100 * n + i) for n, (name, count) in enumerate(sizes.items())
                    for i in range(count)} | {"loose.jpg": jpeg_bytes(seed=999)})
    response = api.post(f"/api/datasets/{d}/versions/")
    assert response.status_code == 201, response.json()
    frozen = response.json()
    assert frozen["auto_split"] is True
    assert _val_per_class(frozen) == {"cat": 2, "dog": 1, "owl": 1}  # 20%, and one of each class of 2+
    assert frozen["counts"]["images"] == {"train": 14, "val": 4}
    assert "4 of 18 images held out for validation" in frozen["split_note"]
    # The split is the dataset's now: the page shows it, and freezing again keeps it (no new split).
    first_val = {image["id"] for image in _images(api, d, split="val")}
    assert len(first_val) == 4 and not _images(api, d, split="")[1:]  # only the loose image is unassigned
    again = api.post(f"/api/datasets/{d}/versions/").json()
    assert again["auto_split"] is False and again["split_note"] == "" and _val_per_class(again) == _val_per_class(frozen)

    # The same seed gives the same split on the same images.
    other = api.post("/api/datasets/", {"name": "same"}, format="json").json()["id"]
    upload(api, other, {f"{name}/{i}.jpg": jpeg_bytes(seed=100 * n + i) for n, (name, count) in enumerate(sizes.items())
                        for i in range(count)})
    api.post(f"/api/datasets/{other}/versions/")
    assert {i["file_name"] for i in _images(api, other, split="val")} == \
        {i["file_name"] for i in _images(api, d, split="val")}


def test_freezing_with_too_few_images_to_hold_out_is_refused_in_words_and_changes_nothing(api, dataset):
    d = dataset["id"]
    upload(api, d, {"cat/1.jpg": jpeg_bytes(seed=1), "dog/1.jpg": jpeg_bytes(seed=2)})
    response = api.post(f"/api/datasets/{d}/versions/")
    assert response.status_code == 400
    assert response.json()["error"].startswith("too few images to hold any out for validation: 2 labeled, no class "
                                               "with two or more")
    assert not DatasetVersion.objects.exists() and not _images(api, d, split="train")

    ids = [image["id"] for image in _images(api, d)]
    api.post(f"/api/datasets/{d}/split/", {"images": ids, "split": "train"}, format="json")
    response = api.post(f"/api/datasets/{d}/versions/")
    assert response.status_code == 400 and "every labeled image is in train" in response.json()["error"]


def test_the_freeze_page_says_it_split(api, dataset, alice):
    from django.test import Client

    upload(api, dataset["id"], {f"cat/{i}.jpg": jpeg_bytes(seed=i) for i in range(5)})
    browser = Client()
    browser.force_login(alice)
    page = browser.get(f"/datasets/{dataset['id']}/").content.decode()
    assert "freezing holds out about 20% of each" in page
    page = browser.post(f"/datasets/{dataset['id']}/freeze/", follow=True).content.decode()
    assert "No validation split was set, so freezing made one: 1 of 5 images held out" in page
    version = DatasetVersion.objects.get()
    assert "1 of 5 images held out" in browser.get(f"/versions/{version.id}/").content.decode()


def test_a_newcomer_freezes_without_splitting_and_the_version_trains(api, dataset, worker):
    from tests.support.images import COLOURS
    from tests.support.waiting import wait_until
    from webapp.training.models import TrainingJob

    d = dataset["id"]
    upload(api, d, {f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
                    for name in ("red", "blue") for i in range(10)})
    version = _wait_for(api.post(f"/api/datasets/{d}/versions/").json()["id"])
    assert version.status == "ready", version.error
    assert version.counts["images"] == {"train": 16, "val": 4}
    with recordio.RecordReader(version_directory(version) / "val.rec") as records:
        assert len(list(records)) == 4
    job = api.post("/api/jobs/", {"version": version.id, "hyperparameters": {
        "num_layers": "20", "image_shape": "3,32,32", "epochs": "1", "mini_batch_size": "4"}}, format="json")
    assert job.status_code == 201, job.json()
    finished = wait_until(lambda: (j := TrainingJob.objects.get(id=job.json()["id"])).finished_state and j, timeout=300)
    assert finished.state == "succeeded", finished.reason
    assert "validation:accuracy" in finished.metrics


def test_deleting_a_class_is_undone_with_its_labels(api, dataset):
    d = dataset["id"]
    upload(api, d, {f"cat/{i}.jpg": jpeg_bytes(seed=i) for i in range(3)} | {"dog/0.jpg": jpeg_bytes(seed=9)})
    ids = _class_ids(api, d)
    api.patch(f"/api/datasets/{d}/classes/{ids['cat']}/", {"colour": "#112233"}, format="json")
    deleted = api.delete(f"/api/datasets/{d}/classes/{ids['cat']}/").json()
    assert (deleted["name"], deleted["image_count"]) == ("cat", 3)
    assert len(_images(api, d, unlabeled=1)) == 3
    relabeled = _images(api, d, unlabeled=1)[0]["id"]  # labeled dog in the meantime: it stays a dog
    api.post(f"/api/datasets/{d}/labels/", {"images": [relabeled], "set": ids["dog"]}, format="json")

    restored = api.post(deleted["undo_url"]).json()
    assert restored["restored"] == 2
    assert (restored["class"]["name"], restored["class"]["colour"]) == ("cat", "#112233")
    counts = {c["name"]: c["image_count"] for c in api.get(f"/api/datasets/{d}/classes/").json()}
    assert counts == {"cat": 2, "dog": 2}
    assert api.post(deleted["undo_url"]).status_code == 404  # undone once


def test_the_page_asks_before_deleting_a_class_and_offers_undo(api, dataset, alice, bob):
    from django.test import Client

    d = dataset["id"]
    upload(api, d, {f"cat/{i}.jpg": jpeg_bytes(seed=i) for i in range(3)})
    cat = _class_ids(api, d)["cat"]
    browser = Client()
    browser.force_login(alice)
    page = browser.get(f"/datasets/{d}/").content.decode()
    assert 'data-confirm="Delete class cat? 3 images will become unlabeled."' in page
    asked = browser.post(f"/datasets/{d}/classes/{cat}/", {"operation": "delete"})  # no script: a page asks
    assert "Delete class cat?" in asked.content.decode() and "3 images will become unlabeled." in asked.content.decode()
    assert _class_ids(api, d) == {"cat": cat}

    done = browser.post(f"/datasets/{d}/classes/{cat}/", {"operation": "delete", "confirmed": "1"}, follow=True)
    page = done.content.decode()
    assert _class_ids(api, d) == {} and 'id="undo-class-delete"' in page and "Deleted class <strong>cat</strong>:\n  3 images are unlabeled now." in page
    restore = done.redirect_chain[-1][0].split("deleted=")[1]
    stranger = Client()
    stranger.force_login(bob)
    assert stranger.post(f"/datasets/{d}/classes/deleted/{restore}/restore/").status_code == 404
    page = browser.post(f"/datasets/{d}/classes/deleted/{restore}/restore/", follow=True).content.decode()
    assert "Class cat is back; 3 image(s) have it again." in page
    assert len(_images(api, d, label=_class_ids(api, d)["cat"])) == 3


def test_images_are_found_by_file_name(api, dataset):
    d = dataset["id"]
    upload(api, d, {"cat/IMG_1001.jpg": jpeg_bytes(seed=1), "cat/img_2002.jpg": jpeg_bytes(seed=2),
                    "dog/beach.jpg": jpeg_bytes(seed=3)})
    assert {i["file_name"] for i in _images(api, d, search="img_")} == {"cat/IMG_1001.jpg", "cat/img_2002.jpg"}
    assert [i["file_name"] for i in _images(api, d, search="beach")] == ["dog/beach.jpg"]


def test_the_lst_names_images_as_uploaded_and_im2rec_rebuilds_the_rec_from_the_zip(api, dataset, worker, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import mxnet as mx

    d = dataset["id"]
    upload(api, d, {"cat/1.jpg": jpeg_bytes(seed=1), "cat/2.jpg": jpeg_bytes(seed=2), "cat/A.jpg": jpeg_bytes(seed=5),
                    "dog/1.jpg": jpeg_bytes(seed=3), "IMG_7.jpg": jpeg_bytes(seed=4), "dog/x.jpg": jpeg_bytes(seed=8)})
    # The same names again from another folder: they must not collide in the list or the zip.
    upload(api, d, {"more.zip": zip_bytes({"more/cat/1.jpg": jpeg_bytes(seed=6), "more/cat/a.jpg": jpeg_bytes(seed=7)})})
    loose = next(i["id"] for i in _images(api, d, unlabeled=1))
    api.post(f"/api/datasets/{d}/labels/", {"images": [loose], "set": _class_ids(api, d)["dog"]}, format="json")
    version = _wait_for(api.post(f"/api/datasets/{d}/versions/").json()["id"])
    assert version.status == "ready", version.error

    rows = {}
    for split in ("train", "val"):
        _save(api.get(f"/api/versions/{version.id}/files/{split}.lst"), tmp_path / f"{split}.lst")
        rows[split] = lst.read_lst(tmp_path / f"{split}.lst", num_classes=2)
    paths = sorted(row.path for split in rows for row in rows[split])
    assert paths == ["cat/1-2.jpg", "cat/1.jpg", "cat/2.jpg", "cat/A.jpg", "cat/a-2.jpg", "dog/1.jpg",
                     "dog/IMG_7.jpg", "dog/x.jpg"]
    assert all(row.label == (0 if row.path.startswith("cat/") else 1) for split in rows for row in rows[split])

    archive = zipfile.ZipFile(io.BytesIO(b"".join(api.get(f"/api/versions/{version.id}/files/images.zip").streaming_content)))
    assert sorted(archive.namelist()) == sorted(f"{split}/{row.path}" for split in rows for row in rows[split])
    archive.extractall(tmp_path / "zip")
    im2rec = Path(mx.__file__).parent / "tools" / "im2rec.py"
    for split in ("train", "val"):
        subprocess.run([sys.executable, str(im2rec), "--pass-through", str(tmp_path / split), str(tmp_path / "zip" / split)],
                       check=True, capture_output=True)
        _save(api.get(f"/api/versions/{version.id}/files/{split}.rec"), tmp_path / f"ours-{split}.rec")
        _save(api.get(f"/api/versions/{version.id}/files/{split}.idx"), tmp_path / f"ours-{split}.idx")
        with recordio.IndexedRecordReader(tmp_path / f"{split}.rec", tmp_path / f"{split}.idx") as theirs, \
                recordio.IndexedRecordReader(tmp_path / f"ours-{split}.rec", tmp_path / f"ours-{split}.idx") as ours:
            assert ours.keys == theirs.keys == [row.index for row in rows[split]]
            for key in ours.keys:
                assert ours.read(key) == theirs.read(key)


def test_list_paths_are_safe_and_unique_in_every_class_folder_of_a_multi_label_version(api):
    from webapp.datasets.models import Dataset, VersionItem
    from webapp.datasets.services.versions import version_item_paths

    dataset = Dataset.objects.get(id=api.post("/api/datasets/", {"name": "tags", "multi_label": True},
                                              format="json").json()["id"])
    version = DatasetVersion.objects.create(dataset=dataset, number=1, multi_label=True, directory="x",
                                            class_names=["sky", "sea", "../up", "a/b", "a_b"])
    for index, (name, labels) in enumerate([("sky/a.jpg", [0, 1]), ("sea/a.jpg", [1]), ("x/a.jpg", [2]),
                                            ("y/a.jpg", [3]), ("z/a.jpg", [4]), ("ref.rec#3", [0])]):
        VersionItem.objects.create(version=version, index=index, stored=f"d/{index}.jpg", file_name=name,
                                   labels=labels, split="train")
    assert version_item_paths(version) == {
        0: ["sky/a.jpg", "sea/a.jpg"], 1: ["sea/a-2.jpg"], 2: [".._up/a.jpg"], 3: ["a_b/a.jpg"], 4: ["a_b-2/a.jpg"],
        5: ["sky/ref.rec#3.jpg"]}


def test_freezing_a_multi_label_dataset_of_unique_label_sets_still_holds_some_out(api):
    d = api.post("/api/datasets/", {"name": "tags", "multi_label": True}, format="json").json()["id"]
    upload(api, d, {f"{i}.jpg": jpeg_bytes(seed=i) for i in range(5)})
    sky = api.post(f"/api/datasets/{d}/classes/", {"name": "sky"}, format="json").json()["id"]
    sea = api.post(f"/api/datasets/{d}/classes/", {"name": "sea"}, format="json").json()["id"]
    ids = [image["id"] for image in _images(api, d)]
    api.post(f"/api/datasets/{d}/labels/", {"images": ids[:1], "add": [sky]}, format="json")
    api.post(f"/api/datasets/{d}/labels/", {"images": ids[1:2], "add": [sea]}, format="json")
    api.post(f"/api/datasets/{d}/labels/", {"images": ids[2:3], "add": [sky, sea]}, format="json")
    frozen = api.post(f"/api/datasets/{d}/versions/").json()
    assert frozen["auto_split"] and frozen["counts"]["images"] == {"train": 2, "val": 1}
