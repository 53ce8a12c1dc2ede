"""A tuning job's page and API drawn from TuningJob/Trial rows this test writes as the scheduler writes them,
with the notices the scheduler sends: the table and the scatter fill live, the best is marked, others see 404."""
from __future__ import annotations

import threading

import pytest

from tests.support.api import api_client, colour_version
from tests.support.browser import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RANGES = {"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "1e-6", "MaxValue": "0.5",
                                         "ScalingType": "Logarithmic"}],
          "IntegerParameterRanges": [{"Name": "mini_batch_size", "MinValue": "8", "MaxValue": "27",
                                      "ScalingType": "Auto"}],
          "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam"]}]}
OVERFLOWING = """() => [...document.querySelectorAll('main *')].filter((e) => {
  const box = e.getBoundingClientRect();
  return box.width > 0 && box.right > window.innerWidth + 1 && !e.closest('.scroll-x');
}).length + (document.documentElement.scrollWidth > window.innerWidth ? 1000 : 0)"""


def _changed(tuning_id: int) -> None:
    """tuning_changed as the scheduler calls it: from a thread with no event loop (Playwright's runs here)."""
    from webapp.tuning.notices import tuning_changed

    thread = threading.Thread(target=tuning_changed, args=(tuning_id,))
    thread.start()
    thread.join()


def test_the_tuning_page_follows_its_trials_live(page, asgi_server, api, alice, bob, worker, channel_layer_redis):
    from webapp.datasets.models import DatasetVersion
    from webapp.training.models import TrainingJob
    from webapp.tuning.models import Trial, TuningJob

    version = DatasetVersion.objects.get(id=colour_version(api, classes=("red", "green", "blue"), per_class=12))
    tuning = TuningJob.objects.create(owner=alice, name="colours-v1-tune-1", version=version, ranges=RANGES,
                                      static_hyperparameters={"epochs": "2"}, max_jobs=3, max_parallel=1,
                                      early_stopping=True)
    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/tuning/{tuning.id}/")
    page.wait_for_selector("#trials tbody tr")
    assert page.inner_text("#trials tbody") == "No trial has started yet."
    page.wait_for_function("window.icLive && true")
    page.evaluate("window.notReloaded = true")
    page.wait_for_timeout(1000)  # the notice socket open (its catch-up fetch done)
    jobs = []
    for n, (lr, state, accuracy) in enumerate([("0.0123456", "succeeded", 0.7), ("0.3", "succeeded", 0.9),
                                               ("1e-5", "running", None)]):
        job = TrainingJob.objects.create(owner=alice, name=f"colours-v1-tune-1-{n:03d}", version=version,
                                         hyperparameters={"learning_rate": lr}, state=state,
                                         metrics={"validation:accuracy": accuracy or 0.4}, progress=0.5)
        jobs.append(job)
        Trial.objects.create(tuning=tuning, job=job, number=n, objective=accuracy, early_stopped=n == 0,
                             tuned={"learning_rate": lr, "mini_batch_size": "16", "optimizer": "adam" if n == 0 else "sgd"})
        _changed(tuning.id)
        page.wait_for_function(f"document.querySelectorAll('#trials tbody tr[data-trial]').length === {n + 1}")
    tuning.best_job, tuning.status = jobs[1], "Completed"
    tuning.save()
    _changed(tuning.id)
    page.wait_for_function("document.getElementById('tuning-status').textContent === 'Completed'")
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#stop-form").count() == 0
    assert page.locator("#scatter circle.point").count() == 3
    assert page.locator("#scatter circle.point.best").get_attribute("data-trial") == "1"
    assert page.locator("#trials tr.best").get_attribute("data-trial") == "1"
    assert page.locator("#trials tr[data-trial='0'] td").last.inner_text() == "yes"
    assert page.locator("#trials tr[data-trial='2'] [data-trial-state]").inner_text() == "running 50%"
    assert page.locator("#trials tr.best a").get_attribute("href") == f"/jobs/{jobs[1].id}/"
    page.select_option("#scatter-x", "learning_rate")
    assert "log scale" in page.inner_text("#scatter") and page.locator("#scatter circle.point").count() == 3
    page.set_viewport_size({"width": 375, "height": 812})
    page.wait_for_timeout(300)
    assert page.evaluate(OVERFLOWING) == 0
    shot(page, "tuning-rows-phone")

    summary = api.get(f"/api/tuning-jobs/{tuning.id}/").json()
    assert summary["best"]["number"] == 1 and [t["state"] for t in summary["trials"]] == [
        "early stopped", "succeeded", "running"]
    other = api_client(bob)
    assert other.get(f"/api/tuning-jobs/{tuning.id}/").status_code == 404
    assert other.post(f"/api/tuning-jobs/{tuning.id}/stop/").status_code == 404
    assert other.get("/api/tuning-jobs/").json() == []
    page.context.clear_cookies()
    sign_in(page, asgi_server, "bob", "builder-4242")
    for path in (f"/tuning/{tuning.id}/", f"/versions/{version.id}/tune/", f"/api/tuning-jobs/{tuning.id}/"):
        assert page.goto(f"{asgi_server}{path}").status == 404, path
