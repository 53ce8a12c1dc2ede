"""The Tune page as a person uses it, in headless Chromium on the real server, a real Celery worker and real
(tiny) training: the form comes filled with AWS's recommended ranges and the balanced preset, says what is
wrong beside the field keeping what was typed, and a tuning job started from it fills its table and scatter
live until the best trial's model is marked on the Models page. Nobody else sees any of it."""
from __future__ import annotations


import pytest

from tests.support.api import api_client, colour_version
from tests.support.browser import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1400, "height": 1000}
COLOURS = ("red", "green", "blue")

# Elements of the page's content that reach past the right edge of the window (sideways scrolling), and
# whether the page as a whole scrolls sideways.
OVERFLOWING = """() => [...document.querySelectorAll('main *')].filter((e) => {
  const box = e.getBoundingClientRect();
  return box.width > 0 && box.right > window.innerWidth + 1 && !e.closest('.scroll-x');
}).map((e) => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)"""
PAGE_SCROLLS_SIDEWAYS = "() => document.documentElement.scrollWidth > window.innerWidth"


def _fits_a_phone(page) -> None:
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # the scatter redraws to the new width after its resize pause
    assert page.evaluate(OVERFLOWING) == []
    assert not page.evaluate(PAGE_SCROLLS_SIDEWAYS)


def _balanced(version_id: int) -> dict[str, str]:
    from webapp.datasets.models import DatasetVersion
    from webapp.training.selectors import training_presets

    presets = training_presets(version=DatasetVersion.objects.get(id=version_id))[0]
    return next(p for p in presets if p.name == "balanced").hyperparameters


def test_the_form_comes_filled_and_says_what_is_wrong_beside_the_field(page, asgi_server, api, alice, worker,
                                                                      channel_layer_redis):
    from webapp.datasets.models import DatasetVersion
    from webapp.tuning.models import TuningJob

    version = colour_version(api, classes=COLOURS, per_class=12)
    train = DatasetVersion.objects.get(id=version).num_training_samples
    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/versions/{version}/")
    page.click("#tune-link")  # the version page's own button
    page.wait_for_selector("#tuning-form")

    # AWS's recommended ranges (spec 1.3), the three most influential switched on, the batch fitted.
    assert page.is_checked("#id_range_learning_rate_on")
    assert (page.input_value("#id_range_learning_rate_min"), page.input_value("#id_range_learning_rate_max"),
            page.input_value("#id_range_learning_rate_scaling")) == ("1e-6", "0.5", "Logarithmic")
    assert page.is_checked("#id_range_mini_batch_size_on")
    assert (page.input_value("#id_range_mini_batch_size_min"),
            page.input_value("#id_range_mini_batch_size_max")) == ("8", str(train))
    assert page.is_checked("#id_range_optimizer_on")
    assert sorted(page.locator("[data-range=optimizer] input[type=checkbox]:checked:not([name$=_on])")
                  .evaluate_all("(boxes) => boxes.map((b) => b.value)")) == ["adam", "nag", "rmsprop", "sgd"]
    for name, low, high in (("momentum", "0.0", "0.999"), ("weight_decay", "0.0", "0.999"), ("beta_1", "1e-6", "0.999"),
                            ("beta_2", "1e-6", "0.999"), ("eps", "1e-8", "1.0"), ("gamma", "1e-8", "0.999")):
        assert not page.is_checked(f"#id_range_{name}_on"), name
        assert (page.input_value(f"#id_range_{name}_min"), page.input_value(f"#id_range_{name}_max")) == (low, high)
    assert page.input_value("#id_strategy") == "Bayesian"
    assert (page.input_value("#id_max_jobs"), page.input_value("#id_max_parallel")) == ("6", "2")
    assert page.is_checked("#id_early_stopping")
    # Every trial shares the balanced preset; what a range tunes is marked as tuned.
    balanced = _balanced(version)
    assert {name: page.input_value(f"#id_static_{name}") for name in balanced} == balanced
    assert "tuned" in page.get_attribute("[data-static=learning_rate]", "class")
    assert "tuned" not in page.get_attribute("[data-static=epochs]", "class")
    page.check("#id_range_momentum_on")
    assert "tuned" in page.get_attribute("[data-static=momentum]", "class")
    _fits_a_phone(page)
    shot(page, "tune-form-phone")
    page.set_viewport_size(DESKTOP)

    # Refused: beside each field, in plain words, with everything typed still there.
    page.fill("#id_max_jobs", "2")
    page.fill("#id_max_parallel", "3")
    page.fill("#id_static_epochs", "2")
    page.fill("#id_range_learning_rate_min", "0.001")
    page.check("#id_range_weight_decay_on")
    page.select_option("#id_range_weight_decay_scaling", "Logarithmic")
    page.click("#tune-start")
    page.wait_for_selector("#form-refused")
    assert page.inner_text(".field:has(#id_max_parallel) [data-error-for=max_parallel]") == (
        "at most the number of trials (2): 3 at a time would leave 1 idle")
    assert "a logarithmic scale starts above 0" in page.inner_text("[data-range=weight_decay] [data-error-for]")
    assert (page.input_value("#id_max_jobs"), page.input_value("#id_max_parallel"),
            page.input_value("#id_static_epochs"), page.input_value("#id_range_learning_rate_min")) == (
        "2", "3", "2", "0.001")
    assert page.is_checked("#id_range_momentum_on") and page.is_checked("#id_range_weight_decay_on")
    assert page.input_value("#id_range_weight_decay_scaling") == "Logarithmic"
    assert TuningJob.objects.count() == 0
    shot(page, "tune-form-refused")


def test_a_small_version_tuned_from_the_page_live_to_its_best_model(page, asgi_server, api, alice, bob, worker,
                                                                   channel_layer_redis, monkeypatch):
    from webapp.registry.models import RegisteredModel
    from webapp.tuning.models import TuningJob

    version = colour_version(api, classes=COLOURS, per_class=12)
    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/versions/{version}/")
    page.click("#tune-link")
    page.wait_for_selector("#tune-start")
    # The defaults, made smaller only in size: 2 trials, one at a time, 2 epochs each.
    page.fill("#id_max_jobs", "2")
    page.fill("#id_max_parallel", "1")
    page.fill("#id_static_epochs", "2")
    page.click("#tune-start")
    page.wait_for_selector("#tuning")
    tuning = TuningJob.objects.get()
    assert page.url.endswith(f"/tuning/{tuning.id}/")
    assert (tuning.strategy, tuning.max_jobs, tuning.max_parallel, tuning.early_stopping) == ("Bayesian", 2, 1, True)
    assert {r["Name"] for rs in tuning.ranges.values() for r in rs} == {"learning_rate", "mini_batch_size", "optimizer"}
    page.evaluate("window.notReloaded = true")

    # Live: both trials appear in the table and on the scatter, and the search completes, without a reload.
    page.wait_for_function("document.querySelectorAll('#trials tbody tr[data-trial]').length === 2", timeout=240000)
    page.wait_for_function("document.getElementById('tuning-status').textContent === 'Completed'", timeout=240000)
    page.wait_for_function("document.querySelectorAll('#scatter circle.point').length === 2")
    assert page.evaluate("window.notReloaded") is True
    tuning.refresh_from_db()
    assert tuning.status == "Completed" and tuning.best_job_id, tuning.reason
    assert page.locator("#stop-form").count() == 0
    # The best trial highlighted in both, linked to its job and its model.
    best = tuning.trials.get(job=tuning.best_job)
    assert page.locator("#trials tr.best").get_attribute("data-trial") == str(best.number)
    assert page.locator("#scatter circle.point.best").get_attribute("data-trial") == str(best.number)
    assert page.locator("#trials tr.best a").get_attribute("href") == f"/jobs/{tuning.best_job_id}/"
    rows = page.locator("#trials tbody tr").all_inner_texts()
    for trial in tuning.trials.select_related("job"):
        assert any(trial.job.name in row for row in rows), (trial.job.name, rows)
    page.wait_for_selector("#best-model", timeout=60000)
    model = RegisteredModel.objects.get(job=tuning.best_job)
    assert page.get_attribute("#best-model", "href") == f"/models/{model.id}/"
    _fits_a_phone(page)
    shot(page, "tuning-job-phone")
    page.set_viewport_size(DESKTOP)
    page.select_option("#scatter-x", "learning_rate")
    assert page.locator("#scatter circle.point").count() == 2
    assert "log scale" in page.inner_text("#scatter")
    shot(page, "tuning-job")

    # The Models page marks the best trial's model, and only it.
    page.click("#best-model")
    assert page.inner_text("#model-tuning") == f"best of tuning {tuning.name}"
    page.goto(f"{asgi_server}/models/")
    marked = page.locator("#models tr:has(.best-of-tuning)")
    assert marked.count() == 1 and model.name in marked.inner_text()
    page.goto(f"{asgi_server}/tuning/")
    assert tuning.name in page.inner_text("#tuning-jobs") and model.name in page.inner_text("#tuning-jobs")

    # The API says the same; another user finds none of it.
    summary = api.get(f"/api/tuning-jobs/{tuning.id}/").json()
    assert summary["best"]["job"] == tuning.best_job_id and len(summary["trials"]) == 2
    assert [t["id"] for t in api.get("/api/tuning-jobs/").json()] == [tuning.id]
    # SageMaker's API describes the browser's tuning job too, its best trial by its job's name.
    import boto3

    from tests.support.aws import configure_by_environment

    configure_by_environment(monkeypatch, alice, asgi_server)
    described = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning.name)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["BestTrainingJob"]["TrainingJobName"] == tuning.best_job.name
    assert described["TrainingJobStatusCounters"]["Completed"] == 2
    _nobody_else_sees(tuning, version, bob, asgi_server, page)


def _nobody_else_sees(tuning, version: int, bob, server: str, page) -> None:
    other = api_client(bob)
    assert other.get(f"/api/tuning-jobs/{tuning.id}/").status_code == 404
    assert other.post(f"/api/tuning-jobs/{tuning.id}/stop/").status_code == 404
    assert other.get("/api/tuning-jobs/").json() == []
    assert other.post("/api/tuning-jobs/", {"version": version}, format="json").status_code == 404
    page.context.clear_cookies()
    sign_in(page, server, "bob", "builder-4242")
    for path in (f"/tuning/{tuning.id}/", f"/versions/{version}/tune/"):
        assert page.goto(f"{server}{path}").status == 404, path
    assert page.goto(f"{server}/api/tuning-jobs/{tuning.id}/").status == 404
    assert tuning.name not in page.goto(f"{server}/tuning/").text()
