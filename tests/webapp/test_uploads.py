"""Uploads: files and folders, zips, .lst and .rec; bad files are reported and good ones kept."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import pytest
from PIL import Image

from tests.support.api import upload
from tests.support.images import jpeg_bytes, png_bytes, zip_bytes
from webapp.datasets.models import Image as StoredImage

pytestmark = pytest.mark.django_db
IM2REC = Path(mx.__file__).parent / "tools" / "im2rec.py"


def _classes(api, dataset_id):
    return {c["name"]: c["image_count"] for c in api.get(f"/api/datasets/{dataset_id}/classes/").json()}


def test_folder_names_become_classes_and_files_are_stored_with_thumbnails(api, dataset, media):
    report = upload(api, dataset["id"], {"cats/a.jpg": jpeg_bytes(seed=1), "cats/b.png": png_bytes(),
                                         "dogs/c.jpg": jpeg_bytes(seed=2), "loose.jpg": jpeg_bytes(seed=3)}).json()
    assert report == {"accepted": 4, "rejected": [], "duplicates": []}
    assert _classes(api, dataset["id"]) == {"cats": 2, "dogs": 1}
    image = StoredImage.objects.get(file_name="cats/b.png")
    assert (Path(media) / image.stored).read_bytes() == png_bytes()
    assert image.stored == f"datasets/{dataset['id']}/images/{image.sha256[:2]}/{image.sha256}.png"
    thumbnail = Image.open(Path(media) / image.thumbnail)
    assert max(thumbnail.size) <= 160 and thumbnail.format == "JPEG"
    assert api.get(f"/api/datasets/{dataset['id']}/images/?unlabeled=1").json()["count"] == 1


def test_bad_files_are_reported_one_by_one(api, dataset):
    good = jpeg_bytes(seed=4)
    report = upload(api, dataset["id"], {
        "ok/good.jpg": good, "ok/truncated.jpg": good[: len(good) // 2], "ok/text.jpg": b"hello",
        "ok/again.jpg": good, "notes.txt": b"x",
    }).json()
    assert report["accepted"] == 1
    reasons = {r["file"]: r["reason"] for r in report["rejected"]}
    assert reasons["ok/truncated.jpg"] == "truncated JPEG: the file ends before the image does"
    assert reasons["ok/text.jpg"] == "not an image: the contents are not JPEG or PNG"
    assert reasons["notes.txt"].startswith("unsupported file type (.txt): send .jpg")
    assert report["duplicates"] == [{"file": "ok/again.jpg", "duplicate_of": "ok/good.jpg"}]
    again = upload(api, dataset["id"], {"elsewhere/good.jpg": good}).json()
    assert again["accepted"] == 0 and again["duplicates"][0]["duplicate_of"] == "ok/good.jpg"


def _bomb() -> bytes:
    # 20000 x 20000 pixels of one colour compress to a few hundred kilobytes.
    buffer = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buffer, "PNG")
    return buffer.getvalue()


def test_zip_with_escaping_paths_and_a_bomb_keeps_the_rest(api, dataset, media):
    archive = zip_bytes({
        "set/cats/a.jpg": jpeg_bytes(seed=5), "set/dogs/b.jpg": jpeg_bytes(seed=6), "../evil.jpg": jpeg_bytes(seed=7),
        "/etc/absolute.jpg": jpeg_bytes(seed=8), "set/cats/bomb.png": _bomb(), "__MACOSX/._a.jpg": b"junk",
    })
    report = upload(api, dataset["id"], {"photos.zip": archive}).json()
    assert report["accepted"] == 2
    reasons = {r["file"]: r["reason"] for r in report["rejected"]}
    assert set(reasons) == {"../evil.jpg", "/etc/absolute.jpg", "cats/bomb.png"}  # "set/" wraps the classes
    assert reasons["../evil.jpg"] == "unsafe path: absolute, or climbing out with '..'"
    assert reasons["cats/bomb.png"] == "too large: 400,000,000 pixels, the limit is 50,000,000 pixels"
    assert _classes(api, dataset["id"]) == {"cats": 1, "dogs": 1}
    assert not list(Path(media).parent.glob("evil.jpg")) and not list(Path(media).rglob("evil*"))


def test_lst_with_its_images(api, dataset):
    lst = "0\t1.000000\ta.jpg\n1\t0.000000\tsub/b.jpg\n2\t1\tmissing.jpg\n"
    report = upload(api, dataset["id"], {"train.lst": lst.encode(), "a.jpg": jpeg_bytes(seed=9),
                                         "sub/b.jpg": jpeg_bytes(seed=10)}, class_names="cat,dog").json()
    assert report["accepted"] == 2
    assert report["rejected"] == [{"file": "missing.jpg", "reason": "listed in train.lst but not uploaded"}]
    assert _classes(api, dataset["id"]) == {"dog": 1, "cat": 1}


def test_bad_lst_row_is_reported_with_its_line(api, dataset):
    report = upload(api, dataset["id"], {"bad.lst": b"0\t1\ta.jpg\n1\tcat\tb.jpg\n", "a.jpg": jpeg_bytes()}).json()
    assert report["rejected"][0]["file"] == "bad.lst"
    assert "bad.lst:2: labels must be numbers" in report["rejected"][0]["reason"]


def test_rec_made_by_im2rec_imports_with_its_labels(api, dataset, tmp_path):
    for name, colour in (("a", (250, 0, 0)), ("b", (0, 250, 0))):
        (tmp_path / "src" / name).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "src" / name / f"{i}.jpg").write_bytes(jpeg_bytes(colour, seed=10 * i + len(name) + ord(name)))
    for extra in (["--list", "--recursive"], []):
        subprocess.run([sys.executable, str(IM2REC), *extra, str(tmp_path / "ref"), str(tmp_path / "src")],
                       check=True, capture_output=True)
    report = upload(api, dataset["id"], {"ref.rec": (tmp_path / "ref.rec").read_bytes()}, class_names="red,green").json()
    assert report["accepted"] == 6
    assert _classes(api, dataset["id"]) == {"red": 3, "green": 3}
    for image in StoredImage.objects.filter(labels__name="red"):
        assert (image.width, image.format) == (64, "JPEG")
        assert image.file_name.startswith("ref.rec#")


def test_exif_orientation_is_applied(api, dataset, media):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    report = upload(api, dataset["id"], {"phone.jpg": jpeg_bytes(size=(64, 32), exif=exif.tobytes())}).json()
    assert report["accepted"] == 1
    image = StoredImage.objects.get()
    assert (image.width, image.height) == (32, 64)
    assert Image.open(Path(media) / image.stored).size == (32, 64)


def test_multi_label_dataset_takes_multi_hot_rows(api):
    dataset = api.post("/api/datasets/", {"name": "tags", "multi_label": True}, format="json").json()
    lst = "0\t1\t0\t1\ta.jpg\n1\t0\t1\t0\tb.jpg\n"
    report = upload(api, dataset["id"], {"m.lst": lst.encode(), "a.jpg": jpeg_bytes(seed=1),
                                         "b.jpg": jpeg_bytes(seed=2)}, class_names="sky,sea,sand").json()
    assert report["accepted"] == 2
    assert _classes(api, dataset["id"]) == {"sky": 1, "sand": 1, "sea": 1}
    assert sorted(StoredImage.objects.get(file_name="a.jpg").labels.values_list("name", flat=True)) == ["sand", "sky"]


def test_rejection_reasons_are_plain_words_one_per_fault(api, dataset):
    good = jpeg_bytes(seed=11)
    png = png_bytes(seed=12)
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    report = upload(api, dataset["id"], {
        "empty.jpg": b"", "notes.jpg": b"shopping list: milk, eggs", "cut.jpg": good[:900],
        "cut.png": png[: len(png) // 2], "anim.png": gif.getvalue(), "header.jpg": good[:20],
    }).json()
    reasons = {r["file"]: r["reason"] for r in report["rejected"]}
    assert reasons == {
        "empty.jpg": "empty file: 0 bytes",
        "notes.jpg": "not an image: the contents are not JPEG or PNG",
        "cut.jpg": "truncated JPEG: the file ends before the image does",
        "cut.png": "truncated PNG: the file ends before the image does",
        "anim.png": "unsupported format: a GIF image; only JPEG and PNG are accepted",
        "header.jpg": "truncated JPEG: the file ends before the image does",
    }
    assert not any("BytesIO" in reason or "0x" in reason for reason in reasons.values())


def test_too_large_files_say_their_size_and_the_limit(api, dataset, settings):
    settings.IMAGE_MAX_BYTES = 10 * 1024
    big = png_bytes(size=(120, 120), seed=3)
    assert len(big) > 10 * 1024
    report = upload(api, dataset["id"], {"big.png": big, "in.zip": zip_bytes({"big.png": big})}).json()
    assert [r["reason"] for r in report["rejected"]] == [f"too large: {len(big) / 1024:.0f} KB, the limit is 10 KB"] * 2


def test_a_zipped_folder_is_like_the_chosen_folder_its_loose_files_stay_unlabeled(api, dataset):
    # What "Compress photos" in a file manager makes: everything inside one folder.
    archive = zip_bytes({"photos/cat/1.jpg": jpeg_bytes(seed=1), "photos/dog/2.jpg": jpeg_bytes(seed=2),
                         "photos/IMG_1.jpg": jpeg_bytes(seed=3), "photos/.DS_Store": b"\0\0\0\1Bud1",
                         "__MACOSX/photos/._IMG_1.jpg": b"junk"})
    report = upload(api, dataset["id"], {"photos.zip": archive}).json()
    assert report == {"accepted": 3, "rejected": [], "duplicates": []}
    assert _classes(api, dataset["id"]) == {"cat": 1, "dog": 1}
    assert StoredImage.objects.get(file_name="IMG_1.jpg").labels.count() == 0
    # A zip of one class folder keeps that folder as the class.
    upload(api, dataset["id"], {"cats.zip": zip_bytes({"cat/3.jpg": jpeg_bytes(seed=4)})})
    assert _classes(api, dataset["id"]) == {"cat": 2, "dog": 1}


def test_files_a_file_manager_adds_are_skipped_without_a_word(api, dataset):
    report = upload(api, dataset["id"], {"cat/.DS_Store": b"\0\0\0\1Bud1", "cat/Thumbs.db": b"\xd0\xcf",
                                         "cat/._1.jpg": b"\0\5\26\7", "cat/1.jpg": jpeg_bytes(seed=5)}).json()
    assert report == {"accepted": 1, "rejected": [], "duplicates": []}


def test_re_uploaded_duplicates_give_unlabeled_copies_their_folder_class_and_never_relabel(api, dataset):
    d = dataset["id"]
    files = {f"cat/{i}.jpg": jpeg_bytes(seed=20 + i) for i in range(3)} | {"dog/0.jpg": jpeg_bytes(seed=30)}
    upload(api, d, files)
    classes = {c["name"]: c["id"] for c in api.get(f"/api/datasets/{d}/classes/").json()}
    api.delete(f"/api/datasets/{d}/classes/{classes['cat']}/")
    cat_one = StoredImage.objects.get(file_name="cat/1.jpg")
    api.post(f"/api/datasets/{d}/labels/", {"images": [cat_one.id], "set": classes["dog"]}, format="json")

    report = upload(api, d, files).json()
    assert report["accepted"] == 0 and len(report["duplicates"]) == 4
    labeled = {entry["file"]: entry.get("labeled") for entry in report["duplicates"]}
    assert labeled == {"cat/0.jpg": "cat", "cat/1.jpg": None, "cat/2.jpg": "cat", "dog/0.jpg": None}
    assert _classes(api, d) == {"dog": 2, "cat": 2}  # cat/1.jpg keeps the dog it was given since
