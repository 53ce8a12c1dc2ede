"""The dataset page as a person uses it, in headless Chromium: a chosen or dropped folder, the upload
report, keys after the toolbar, the larger view, search, and a class deleted then brought back."""
from __future__ import annotations

import pytest

from tests.support.api import upload
from tests.support.browser import shot, sign_in
from tests.support.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _photos(root, *, per_class=6, loose=4):
    """``root/cat``, ``root/dog`` and loose files beside them, with an empty and a non-image file."""
    for n, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            (root / name / f"{name}-{i}.jpg").write_bytes(jpeg_bytes((200, 40 + 150 * n, 40), seed=10 * n + i))
    for i in range(loose):
        (root / f"IMG_{100 + i}.jpg").write_bytes(jpeg_bytes((40, 40, 200), seed=50 + i))
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.jpg").write_bytes(b"shopping list: milk, eggs")
    return root


def _dataset(owner, name="photos"):
    from webapp.datasets.models import Dataset

    return Dataset.objects.create(owner=owner, name=name)


def _labels(dataset):
    """Class name per file name; None for an unlabeled image."""
    return {image.file_name: (image.labels.get().name if image.labels.exists() else None)
            for image in dataset.images.all()}


def test_the_chosen_folder_is_no_class_and_the_report_summarises(page, live_server, alice, tmp_path):
    folder = _photos(tmp_path / "photos")
    dataset = _dataset(alice)
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")
    page.set_input_files("#upload-folder", str(folder))
    page.wait_for_selector("#upload-report [data-accepted]")
    assert page.get_attribute("#upload-report [data-accepted]", "data-accepted") == "16"
    assert set(dataset.classes.values_list("name", flat=True)) == {"cat", "dog"}
    labels = _labels(dataset)
    assert labels["cat/cat-0.jpg"] == "cat" and labels["dog/dog-5.jpg"] == "dog"
    assert sorted(name for name, label in labels.items() if label is None) == [f"IMG_{100 + i}.jpg" for i in range(4)]
    summary = page.inner_text("#upload-report details.rejected summary")
    assert "Rejected 2:" in summary and "empty file (1)" in summary and "not an image (1)" in summary
    assert "notes.jpg: not an image: the contents are not JPEG or PNG" in page.inner_text("#upload-report .rejected")

    # The same folder again: 16 duplicates fold into one line that opens to the list.
    page.set_input_files("#upload-folder", str(folder))
    page.wait_for_selector("#upload-report [data-accepted='0']")
    duplicates = page.locator("#upload-report details.duplicates")
    assert duplicates.get_attribute("open") is None
    assert duplicates.locator("summary").inner_text().startswith("16 already in the dataset, not stored again")
    assert page.locator("#upload-report").bounding_box()["height"] < 250
    shot(page, "upload-summary")
    duplicates.locator("summary").click()
    assert duplicates.locator("li").count() == 16 and duplicates.locator("li").first.is_visible()


def test_a_dropped_folder_is_the_chosen_folder_too(page, live_server, alice, tmp_path):
    folder = _photos(tmp_path / "dropped", per_class=2, loose=2)
    dataset = _dataset(alice, "dropped")
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")
    # A real drop of a real folder, as a file manager sends it (Chromium's own drag input).
    box = page.locator("#upload").bounding_box()
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    drag = {"items": [], "files": [str(folder)], "dragOperationsMask": 1}
    cdp = page.context.new_cdp_session(page)
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, **point, "data": drag})
    page.wait_for_selector("#upload-report [data-accepted]")
    assert page.get_attribute("#upload-report [data-accepted]", "data-accepted") == "6"
    assert set(dataset.classes.values_list("name", flat=True)) == {"cat", "dog"}
    assert sorted(name for name, label in _labels(dataset).items() if label is None) == ["IMG_100.jpg", "IMG_101.jpg"]


def test_keys_label_after_the_filter_and_the_heading_follows_with_a_larger_view_and_search(page, live_server, alice,
                                                                                            api):
    dataset = _dataset(alice)
    upload(api, dataset.id, {"cat/a.jpg": jpeg_bytes(seed=1), "dog/b.jpg": jpeg_bytes(seed=2)}
           | {f"IMG_{100 + i}.jpg": jpeg_bytes(seed=10 + i) for i in range(5)})
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")

    page.check("#filter-unlabeled")  # the focus is on the checkbox now
    page.wait_for_function("document.querySelectorAll('#grid .cell').length === 5")
    cells = page.locator("#grid .cell")
    first = cells.nth(0).get_attribute("title")
    cells.nth(0).click()
    page.keyboard.press("1")
    page.wait_for_function("document.querySelector('#grid .cell').innerText.includes('cat')", timeout=5000)
    assert _labels(dataset)[first] == "cat"
    page.wait_for_function("document.getElementById('label-counts').textContent === '7 images, 4 unlabeled'")
    shot(page, "labeling-keys-after-filter")

    # Space opens the selected image larger; arrows move; a key labels the one shown; Esc closes.
    cells.nth(1).click()
    page.keyboard.press(" ")
    viewer = page.locator("#viewer")
    assert viewer.is_visible() and page.inner_text("#viewer-name") == cells.nth(1).get_attribute("title")
    page.wait_for_function("document.getElementById('viewer-image').naturalWidth === 64")  # the image, not its thumbnail
    page.keyboard.press("ArrowRight")
    shown = page.inner_text("#viewer-name")
    assert shown == cells.nth(2).get_attribute("title")
    page.keyboard.press("2")
    page.wait_for_function("document.getElementById('viewer-labels').innerText.includes('dog')")
    page.wait_for_function("document.getElementById('label-counts').textContent === '7 images, 3 unlabeled'")
    assert _labels(dataset)[shown] == "dog"
    shot(page, "labeling-larger-view")
    page.keyboard.press("Escape")
    assert not viewer.is_visible()
    cells.nth(3).dblclick()  # a double-click opens it too
    assert viewer.is_visible() and page.inner_text("#viewer-name") == cells.nth(3).get_attribute("title")
    page.keyboard.press("Escape")

    # Keys with nothing selected say why nothing happened.
    page.uncheck("#filter-unlabeled")
    page.wait_for_function("document.querySelectorAll('#grid .cell').length === 7")
    page.keyboard.press("1")
    assert page.inner_text("#grid-status").startswith("Select images first")

    page.fill("#filter-name", "img_104")
    page.wait_for_function("document.querySelectorAll('#grid .cell').length === 1")
    assert page.locator("#grid .cell").get_attribute("title") == "IMG_104.jpg"
    page.locator("#grid .cell").click()  # the focus was in the search box
    page.keyboard.press("2")
    page.wait_for_function("document.querySelector('#grid .cell').innerText.includes('dog')")
    assert _labels(dataset)["IMG_104.jpg"] == "dog"


def test_deleting_a_class_asks_with_the_count_and_undo_brings_it_back(page, live_server, alice, api):
    dataset = _dataset(alice)
    upload(api, dataset.id, {f"cat/{i}.jpg": jpeg_bytes(seed=i) for i in range(3)} | {"dog/0.jpg": jpeg_bytes(seed=9)})
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    delete = page.locator("tr[data-class-name='cat'] button[value=delete]")
    delete.click()
    assert asked == ["Delete class cat? 3 images will become unlabeled."]
    assert dataset.classes.filter(name="cat").exists()  # cancelled: nothing happened

    delete.click()
    page.wait_for_selector("#class-deleted")
    assert not dataset.classes.filter(name="cat").exists()
    assert page.inner_text("#class-deleted") == "Deleted class cat: 3 images are unlabeled now. Undo"
    assert page.inner_text("#label-counts") == "4 images, 3 unlabeled"
    shot(page, "class-deleted-undo")
    page.click("#undo-class-delete")
    page.wait_for_selector("tr[data-class-name='cat']")
    assert page.locator("tr[data-class-name='cat'] td").nth(2).inner_text() == "3"
    assert "Class cat is back; 3 image(s) have it again." in page.inner_text("main")
    assert _labels(dataset)["cat/2.jpg"] == "cat"
