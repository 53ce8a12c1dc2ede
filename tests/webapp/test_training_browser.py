"""The training form and the job page as a person uses them, in headless Chromium: the form submitted as
it comes, a job followed live from the queue to its model, at desktop width and at 390 px."""
from __future__ import annotations

import pytest

from tests.support.api import photo_version
from tests.support.browser import shot, sign_in
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}

# Elements of the page's content that reach past the right edge of the window (sideways scrolling).
OVERFLOWING = """() => [...document.querySelectorAll('main *')].filter((e) => {
  const box = e.getBoundingClientRect();
  return box.width > 0 && box.right > window.innerWidth + 1 && !e.closest('.scroll-x');
}).map((e) => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)"""


def _chart_widths(page) -> list[tuple[int, int]]:
    """(chart, its figure's inner width) for each chart of the dashboard."""
    return page.evaluate("""() => [...document.querySelectorAll('#dashboard figure')].map((f) =>
        [f.querySelector('.uplot').offsetWidth, f.querySelector('.chart').clientWidth])""")


def _charts_fill(page) -> bool:
    return all(chart >= figure - 2 and chart <= figure + 2 and figure > 0 for chart, figure in _chart_widths(page))


def test_the_form_as_it_comes_trains_a_96px_version(page, asgi_server, api, alice, worker,  # noqa: F811
                                                    channel_layer_redis):
    from webapp.datasets.models import DatasetVersion
    from webapp.training.models import TrainingJob

    version = photo_version(api, per_class=10)
    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/versions/{version}/train/")
    assert page.is_checked("#preset-balanced")
    assert page.get_attribute("#advanced", "open") is None  # every hyperparameter one click away, closed
    assert page.is_hidden("#id_base_upload") and page.is_hidden("#id_base_model")
    page.select_option("#id_mode", "incremental")
    assert page.is_visible("#id_base_upload") and page.is_visible("#id_base_model")
    page.select_option("#id_mode", "full")
    assert page.is_hidden("#id_base_upload")
    page.click("text=Advanced: every SageMaker hyperparameter")
    legends = page.locator("#advanced fieldset legend").all_inner_texts()
    assert legends == ["Network", "Optimiser", "Schedule", "Augmentation", "Early stopping", "Checkpoints",
                       "Metrics, loss and machines"]
    page.click("#preset-quick")
    assert page.input_value("#id_image_shape") == "3,64,64" and page.input_value("#id_resize") == "64"
    page.click("#preset-balanced")
    assert page.input_value("#id_image_shape") == "3,96,96" and page.input_value("#id_resize") == ""
    page.set_viewport_size(PHONE)
    assert page.evaluate(OVERFLOWING) == []
    shot(page, "train-form-phone")
    page.set_viewport_size({"width": 1400, "height": 1000})

    # As it comes: nothing touched.
    page.goto(f"{asgi_server}/versions/{version}/train/")
    shot(page, "train-form")
    page.click("#training-form button[type=submit]")
    page.wait_for_selector("#dashboard")
    job = TrainingJob.objects.get()
    from webapp.training.selectors import training_presets

    fitted = next(p for p in training_presets(version=DatasetVersion.objects.get(id=version))[0]
                  if p.name == "balanced").hyperparameters
    assert {k: job.hyperparameters[k] for k in fitted} == fitted
    assert (job.hyperparameters["num_layers"], job.hyperparameters["image_shape"]) == ("20", "3,96,96")
    assert int(job.hyperparameters["mini_batch_size"]) <= job.version.num_training_samples
    assert "resize" not in job.hyperparameters  # the images are 96x96 already
    done = wait_until(lambda: (j := TrainingJob.objects.get(id=job.id)).finished_state and j, timeout=300)
    assert done.state == "succeeded", done.reason
    # Its speed now times the presets of this depth and size.
    page.goto(f"{asgi_server}/versions/{version}/train/")
    assert "timed on earlier jobs here" in page.inner_text("label[data-preset=balanced]")


def test_a_job_followed_live_from_the_queue_to_its_model(page, asgi_server, api, alice, worker,  # noqa: F811
                                                         channel_layer_redis):
    from tests.support.api import colour_version
    from webapp.training.models import TrainingJob

    version = colour_version(api, classes=("red", "green", "blue"), per_class=20)
    small = {"num_layers": "20", "image_shape": "3,32,32", "mini_batch_size": "16", "learning_rate": "0.05"}
    first = api.post("/api/jobs/", {"version": version, "hyperparameters": {**small, "epochs": "30"}},
                     format="json").json()["id"]
    second = api.post("/api/jobs/", {"version": version, "hyperparameters": {**small, "epochs": "3"}},
                      format="json").json()["id"]
    wait_until(lambda: TrainingJob.objects.get(id=first).state == "running")
    refused = []
    page.on("response", lambda response: response.status >= 400 and refused.append((response.status, response.url)))

    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/jobs/{second}/")
    # Queued: where it waits, no empty charts.
    assert page.inner_text("#job-queue") == f"Waiting in the queue (place 1), behind job #{first} (running)."
    assert page.is_hidden("#dashboard")
    shot(page, "job-queued")

    api.post(f"/api/jobs/{first}/cancel/")
    page.wait_for_selector("#dashboard", state="visible", timeout=60000)
    assert page.is_hidden("#job-queue")
    page.wait_for_function("document.querySelectorAll('#epoch-table tbody tr').length >= 1", timeout=60000)
    assert page.locator("#epoch-table tbody tr").first.locator("td").first.inner_text() == "1"  # as the charts count
    page.wait_for_function(
        "[...document.querySelectorAll('#dashboard figure')].every((f) => f.querySelector('.uplot').offsetWidth > 300)")
    assert _charts_fill(page), _chart_widths(page)

    # At phone width the charts take the width, and follow the window back.
    page.set_viewport_size(PHONE)
    page.wait_for_function("document.querySelector('#dashboard .uplot').offsetWidth < 390")
    assert _charts_fill(page), _chart_widths(page)
    assert min(chart for chart, _ in _chart_widths(page)) > 300
    assert page.evaluate(OVERFLOWING) == []

    page.wait_for_function("document.getElementById('job-state').textContent === 'succeeded'", timeout=120000)
    # Finished, live: no Cancel, no ETA; the kept epoch said, the evaluation shown, without a reload.
    assert page.locator("#cancel-form").count() == 0
    page.wait_for_selector("#job-kept:not([hidden])")
    assert "best validation accuracy" in page.inner_text("#job-kept")
    assert "ETA" not in page.inner_text("#job-figures") and page.inner_text("#job-figures") == "succeeded after epoch 3 of 3"
    page.wait_for_selector("#confusion td", timeout=30000)
    assert page.locator("#epoch-table tbody tr").all_inner_texts()[-1].startswith("3")
    assert page.evaluate(OVERFLOWING) == []
    shot(page, "job-succeeded-phone")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.wait_for_function("document.querySelector('#dashboard .uplot').offsetWidth > 390")
    assert _charts_fill(page), _chart_widths(page)

    # The cancelled one offers to go on, or to be made a model of what it kept.
    page.goto(f"{asgi_server}/jobs/{first}/")
    assert page.locator("#cancel-form").count() == 0
    assert page.inner_text("#resume-form button").startswith("Resume after epoch")
    page.click("#model-form button")
    page.wait_for_function("document.getElementById('job-state').textContent === 'succeeded'", timeout=120000)
    page.wait_for_selector("#job-model")
    assert "cancelled after epoch" in page.inner_text("#job-kept")
    assert page.locator("#cancel-form, #resume-form, #model-form").count() == 0
    assert refused == []  # never a 4xx, from the evaluation endpoint or anything else
