"""The newcomer's first hour, in headless Chromium, touching nothing but the pages' own controls: sign up,
create a dataset, choose a folder of 96x96 photo crops (class sub-folders, loose files, corrupt files),
label loose files with the keyboard after using the filter, freeze without splitting, submit the training
form as it comes, wait on the job page while the job is queued (its socket idle for a minute), and watch it
train to a good model on this CPU. The screenshots are README's "first ten minutes"."""
from __future__ import annotations

import contextlib
import time

import pytest

from tests.support.browser import shot
from tests.support.databases import TEST_REDIS
from tests.support.waiting import wait_until
from tests.webapp.photo_crops import CLASSES, write_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def celery_worker(queues):
    """A real Celery worker (a thread of this process) on the test Redis, for ``queues`` only: the gpu
    queue gets a worker only once the test wants the queued job to start."""
    from celery.contrib.testing.worker import start_worker

    from workers.celery import app

    app.conf.update(broker_url=TEST_REDIS, result_backend=TEST_REDIS)
    with start_worker(app, queues=queues, perform_ping_check=False, pool="solo", shutdown_timeout=30):
        yield app


@pytest.fixture
def redis_flushed():
    import redis

    redis.Redis.from_url(TEST_REDIS).flushdb()


def test_a_newcomers_first_click_trains(page, asgi_server, channel_layer_redis, redis_flushed, tmp_path):
    from webapp.datasets.models import DatasetVersion
    from webapp.training.models import TrainingJob

    folder = tmp_path / "photos"
    loose = write_folder(folder, per_class=45, loose=20)
    sockets = []
    page.on("websocket", lambda ws: sockets.append({"url": ws.url, "closed": False, "ws": ws}))

    # Sign up from the sign-in page, as a newcomer does.
    page.goto(f"{asgi_server}/")
    page.click("text=Sign up")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password1", "first-hour-2026")
    page.fill("#id_password2", "first-hour-2026")
    page.click("button[type=submit]")
    page.fill("#new-dataset input[name=name]", "crops")
    page.click("#new-dataset button")
    page.wait_for_selector("h1:has-text('crops')")

    with celery_worker(["cpu"]):
        page.set_input_files("#upload-folder", str(folder))
        page.wait_for_selector("#upload-report [data-accepted]", timeout=60000)
        assert page.get_attribute("#upload-report [data-accepted]", "data-accepted") == str(4 * 45 + 20)
        report = page.inner_text("#upload-report")
        assert "BytesIO" not in report and "0x" not in report
        for name in ("empty.jpg", "notes.jpg", "cut-short.jpg"):
            assert name in report
        shot(page, "first-1-uploaded")

        page.reload()
        names = [row.get_attribute("data-class-name") for row in page.locator("tr[data-class-id]").all()]
        assert sorted(names) == sorted(CLASSES), "the chosen folder itself must not become a class"
        assert "20 unlabeled" in page.inner_text("#label-counts")

        # The filter first, then a thumbnail, then a number key: the key must reach the grid.
        page.check("#filter-unlabeled")
        page.wait_for_function("document.querySelectorAll('#grid .cell').length === 20")
        shown = [cell.get_attribute("title") for cell in page.locator("#grid .cell").all()]
        assert sorted(shown) == sorted(loose)
        for n, name in enumerate(shown[:3]):
            cell = page.locator(f"#grid .cell[title='{name}']")
            key = names.index(CLASSES[loose[name]]) + 1
            cell.click()
            page.keyboard.press(str(key))
            page.wait_for_function(f"document.getElementById('label-counts').innerText.includes('{19 - n} unlabeled')")
        shot(page, "first-2-labeled")

        # Freeze without a split: a validation set is held out, and the page says so.
        page.click("#freeze-form button")
        page.wait_for_selector("#versions a:has-text('train.rec')", timeout=120000)
        assert "validation" in " ".join(page.locator("main .message").all_inner_texts()).lower()
        version = DatasetVersion.objects.get()
        assert version.status == "ready" and version.counts["images"]["val"] > 0
        shot(page, "first-3-version")

    # The form as it comes: no field touched.
    page.click(f"#versions a[href='/versions/{version.id}/']")
    page.click("text=Train a model")
    page.wait_for_selector("#training-form")
    shot(page, "first-4-train-form")
    page.click("#training-form button[type=submit]")
    page.wait_for_selector("#dashboard", state="attached")
    job = TrainingJob.objects.get()
    assert job.state == "queued"
    page.wait_for_function("document.getElementById('job-state').textContent.trim() === 'queued'")

    # No gpu worker yet: the job waits and its socket sits idle for a minute without dropping.
    time.sleep(60)
    job_sockets = [s for s in sockets if "/ws/jobs/" in s["url"]]
    assert len(job_sockets) == 1 and not job_sockets[0]["ws"].is_closed(), sockets
    with celery_worker(["cpu", "gpu"]):
        wait_until(lambda: TrainingJob.objects.get(id=job.id).state in ("succeeded", "failed"),
                   "the job to finish (10 minutes)", 600, step=0.5)
        page.wait_for_function("document.getElementById('job-state').textContent.trim() === 'succeeded'",
                               timeout=30000)
    job.refresh_from_db()
    assert job.state == "succeeded", job.reason
    assert job.kept_metrics["validation:accuracy"] >= 0.8, job.kept_metrics
    # The same socket carried the whole run live: none was opened again after the idle spell.
    assert len([s for s in sockets if "/ws/jobs/" in s["url"]]) == 1
    page.wait_for_selector("#confusion td", timeout=30000)
    # Finished: no live controls left.
    assert page.locator("button:has-text('Cancel')").count() == 0
    assert "ETA" not in page.inner_text("#job-figures")
    shot(page, "first-5-trained")
