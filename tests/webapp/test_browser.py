"""A person's path through the pages, in headless Chromium: sign in, create a dataset, drop a folder,
label with the keyboard, freeze a version and see its .rec listed. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest

from tests.support.api import colour_version, import_model
from tests.support.browser import shot, sign_in
from tests.support.images import colour_jpeg, jpeg_bytes, zip_bytes
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_sign_in_upload_a_folder_label_with_keys_and_freeze(page, asgi_server, worker, channel_layer_redis,
                                                            django_user_model, tmp_path):
    # The ASGI server: the version's build reaches the page as notices over its WebSocket.
    django_user_model.objects.create_user(username="alice", password="wonderland-42")
    folder = tmp_path / "animals"
    for n, name in enumerate(("cats", "dogs")):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            (folder / name / f"{name}{i}.jpg").write_bytes(jpeg_bytes((200, 40 + 150 * n, 40), seed=10 * n + i))
    (folder / "cats" / "broken.jpg").write_bytes(b"not really a jpeg")

    page.goto(f"{asgi_server}/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "wonderland-42")
    page.click("button[type=submit]")
    page.fill("#new-dataset input[name=name]", "animals")
    page.click("#new-dataset button")
    page.wait_for_selector("h1:has-text('animals')")

    page.set_input_files("#upload-folder", str(folder))
    page.wait_for_selector("#upload-report [data-accepted]")
    assert page.get_attribute("#upload-report [data-accepted]", "data-accepted") == "8"
    assert "broken.jpg" in page.inner_text("#upload-report .rejected")
    shot(page, "1-uploaded")

    page.reload()
    page.wait_for_selector("#grid .cell")
    assert page.locator("#grid .cell").count() == 8
    # Select the first three with click and shift-click, then give them class 2 with the "2" key.
    second = page.locator("tr[data-class-id]").nth(1).get_attribute("data-class-name")
    cells = page.locator("#grid .cell")
    already = sum(second in cells.nth(i).inner_text() for i in range(3))
    cells.nth(0).click()
    cells.nth(2).click(modifiers=["Shift"])
    assert page.locator("#grid .cell.selected").count() == 3
    page.keyboard.press("2")
    page.wait_for_function(f"[...document.querySelectorAll('#grid .cell')].slice(0, 3)"
                           f".every(c => c.innerText.includes('{second}'))")
    shot(page, "2-labeled")
    page.wait_for_function(f"document.querySelector('#balance span[title^=\"{second}:\"]').title === "
                           f"'{second}: {4 + 3 - already}'")  # the balance bar follows without a reload
    page.reload()
    counts = {row.get_attribute("data-class-name"): int(row.locator("td").nth(2).inner_text())
              for row in page.locator("tr[data-class-id]").all()}
    assert counts[second] == 4 + 3 - already and sum(counts.values()) == 8

    page.click("#split-form button")
    page.wait_for_selector("text=Split: ")
    page.click("#freeze-form button")
    page.wait_for_selector("#versions a:has-text('train.rec')", timeout=60000)
    shot(page, "3-version-built")
    links = page.locator("#versions .files a").all_inner_texts()
    assert {"train.rec", "train.idx", "train.lst", "val.rec"} <= set(links)


def test_train_from_the_form_and_watch_the_chart_grow(page, asgi_server, api, alice, worker, channel_layer_redis):
    from webapp.training.models import TrainingJob

    version = colour_version(api)

    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/versions/{version}/train/")
    # Fitted to the version's 32x32 images, not SageMaker's ResNet-152 at 224 (test_training_form.py has more).
    assert page.input_value("#id_num_layers") == "20" and page.input_value("#id_image_shape") == "3,32,32"
    assert page.is_disabled("#id_mode option[value=transfer]")  # no ImageNet weights in this model store
    page.click("text=Advanced: every SageMaker hyperparameter")
    page.select_option("#id_num_layers", "20")
    page.fill("#id_image_shape", "3,32,32")
    page.fill("#id_epochs", "40")
    page.fill("#id_mini_batch_size", "8")
    page.fill("#id_learning_rate", "7")  # out of range: the error shows beside the field
    page.click("#training-form button[type=submit]")
    assert "between 0 and 1" in page.inner_text(".field.invalid")
    page.fill("#id_learning_rate", "0.05")
    page.click("#training-form button[type=submit]")
    page.wait_for_selector("#dashboard")
    page.wait_for_function("Number(document.getElementById('dashboard').dataset.points || 0) > 0", timeout=60000)
    first = int(page.get_attribute("#dashboard", "data-points"))
    page.wait_for_function(f"Number(document.getElementById('dashboard').dataset.points) > {first + 2}", timeout=60000)
    page.wait_for_selector("#epoch-table tbody tr", timeout=60000)
    shot(page, "4-training-live")
    job = TrainingJob.objects.get()
    assert job.state == "running"
    page.click("text=Cancel")
    page.wait_for_function("document.getElementById('job-state').textContent === 'cancelled'", timeout=60000)
    shot(page, "5-training-cancelled")


def test_evaluation_confusion_cell_and_one_key_relabel(page, asgi_server, api, alice, worker, channel_layer_redis):
    from webapp.datasets.models import Image
    from webapp.training.models import TrainingJob

    version = colour_version(api, per_class=12, train_ratio=0.5)
    # One epoch at a tiny learning rate: a model that still confuses the colours.
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": {
        "num_layers": "20", "image_shape": "3,32,32", "epochs": "1", "mini_batch_size": "4",
        "learning_rate": "0.00001"}}, format="json").json()
    wait_until(lambda: TrainingJob.objects.get(id=job["id"]).state == "succeeded")

    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/jobs/{job['id']}/")
    page.wait_for_selector("#confusion td")
    assert sum(int(td) for td in page.locator("#confusion td").all_inner_texts()) == 12
    assert page.inner_text("#job-model").startswith("Model colours-v1-job")
    shot(page, "6-evaluation")
    cell = page.locator("#confusion td[data-true='0'][data-predicted='0']")
    cell.click()
    assert page.inner_text("#mistakes-title").startswith("True ")
    first = page.locator("#mistakes .cell").first
    if first.count():
        image_id = int(first.get_attribute("data-image"))
        first.click()
        page.keyboard.press("2")
        page.wait_for_selector("#mistakes .cell[data-relabeled]")
        second_class = page.locator("#per-class tr").nth(2).locator("td").first.inner_text()
        assert list(Image.objects.get(id=image_id).labels.values_list("name", flat=True)) == [second_class]


def test_drop_images_on_a_model_and_see_top_classes_with_latency(page, asgi_server, api, alice, serving,
                                                                 colour_artifact, tmp_path, channel_layer_redis):
    model = import_model(api, colour_artifact, name="colour-squares")
    files = []
    for label, name in enumerate(("red", "green", "blue")):
        files.append(tmp_path / f"{name}-square.jpg")
        files[-1].write_bytes(colour_jpeg(label, seed=label + 40, size=96))
    (tmp_path / "notes.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing more")
    files.append(tmp_path / "notes.png")

    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/models/")
    page.click("text=colour-squares")
    page.set_input_files("#predict-files", [str(path) for path in files])
    page.wait_for_function("document.querySelectorAll('.prediction:not(.pending)').length === 4")
    cards = {card.query_selector("h3").inner_text(): card for card in page.query_selector_all(".prediction")}
    for name in ("red", "green", "blue"):
        card = cards[f"{name}-square.jpg"]
        assert card.get_attribute("data-top") == name
        assert len(card.query_selector_all("ol.bars li")) == 3
        assert "ms for the model" in card.query_selector(".latency").inner_text()
    assert "failed" in cards["notes.png"].get_attribute("class")
    assert "corrupt" in cards["notes.png"].query_selector(".latency").inner_text()
    shot(page, "5-predict")

    page.click("#webcam-start")
    page.wait_for_function("document.getElementById('webcam-video').readyState >= 2")
    page.click("#webcam-snap")
    page.wait_for_function("document.querySelectorAll('.prediction:not(.pending)').length === 5")
    snapshot = page.query_selector(".prediction")  # the newest comes first
    assert snapshot.query_selector("h3").inner_text().startswith("webcam-")
    assert snapshot.get_attribute("data-top") in ("red", "green", "blue")
    page.click("#webcam-stop")

    # A batch transform from the same page, with its progress bar, then its output.
    archive = tmp_path / "photos.zip"
    archive.write_bytes(zip_bytes({f"{i}.jpg": colour_jpeg(i % 3, seed=i) for i in range(30)}))
    page.goto(f"{asgi_server}/models/{model['id']}/")
    page.set_input_files("#id_input", str(archive))
    page.click("#transform-form button[type=submit]")
    page.wait_for_selector("#transform-output:not([hidden])", timeout=60000)
    assert page.inner_text("#transform-count") == "30 / 30"
    assert page.get_attribute("#transform-progress", "value") == "1"
    shot(page, "6-batch-transform")

    alice.is_staff = True  # the health page is for staff
    alice.save()
    page.reload()
    page.click("nav >> text=Health")
    assert page.inner_text("#health-overall") == "all good"
    assert "serving on cpu" in page.inner_text("[data-check=workers]")
    shot(page, "7-health")
