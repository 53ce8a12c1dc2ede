"""One live channel: versions' builds and batch transforms reach their owner's pages as notices
(webapp/core/notices.py) on the socket every page holds (static/js/live.js), so the pages never poll;
progress notices are throttled; a channel layer that is down never fails the work that notifies."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from urllib.parse import urlparse

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.api import upload
from tests.support.browser import sign_in
from tests.support.images import COLOURS, colour_jpeg, jpeg_bytes, zip_bytes
from tests.support.network import free_port
from webapp.registry.models import BatchTransform

pytestmark = pytest.mark.django_db(transaction=True)


def _queued_version(api, per_class: int = 40) -> int:
    """A frozen version of two colours whose build waits in the broker (no worker yet)."""
    files = {f"{name}/{i}.jpg": jpeg_bytes(COLOURS[name], size=(32, 32), seed=i)
             for name in ("red", "blue") for i in range(per_class)}
    dataset = api.post("/api/datasets/", {"name": "colours"}, format="json").json()["id"]
    assert upload(api, dataset, files).json()["accepted"] == len(files)
    api.post(f"/api/datasets/{dataset}/split/", {"train_ratio": 0.75, "seed": 0}, format="json")
    version = api.post(f"/api/datasets/{dataset}/versions/").json()
    assert version["status"] == "queued", version
    return version["id"]


def _ready_model(owner, media, artifact) -> int:
    """A model ready to predict with, as an import leaves it once validated (the registry's model class is
    reached through the transform's field, whatever it is named)."""
    registered = BatchTransform._meta.get_field("model").related_model
    relative = f"models/{owner.id}/colour-squares/model.tar.gz"
    (media / relative).parent.mkdir(parents=True, exist_ok=True)
    (media / relative).write_bytes(artifact.read_bytes())
    return registered.objects.create(owner=owner, name="colour-squares", source="imported", artifact=relative,
                                     class_names=["red", "green", "blue"], image_shape=[3, 32, 32], num_layers=20,
                                     num_classes=3, state="ready").id


def _queued_transform(api, model_id: int, images: int) -> int:
    archive = zip_bytes({f"{i:03d}.jpg": colour_jpeg(i % 3, seed=i) for i in range(images)})
    created = api.post("/api/transforms/", {"model": model_id, "input": SimpleUploadedFile("photos.zip", archive)},
                       format="multipart")
    assert created.status_code == 201, created.json()
    return created.json()["id"]


def _as_a_worker(run, **kwargs) -> threading.Thread:
    """``run`` in a thread of its own, as a Celery worker calls it (its notices go through Redis)."""
    thread = threading.Thread(target=run, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


class _Requests:
    """The paths a page asked for, to count its fetches of one URL (Playwright's request events)."""

    def __init__(self, page):
        self.page = page
        self.paths: list[str] = []
        page.on("request", lambda request: self.paths.append(urlparse(request.url).path))

    def count(self, path: str) -> int:
        return self.paths.count(path)

    def wait_for(self, path: str, times: int = 1, timeout: float = 30) -> None:
        """Until the page asked for ``path`` ``times`` times (Playwright hands its events over only while
        it is called: so the waiting is the page's)."""
        deadline = time.monotonic() + timeout
        while self.count(path) < times:
            assert time.monotonic() < deadline, f"the page did not ask for {path}: {self.paths}"
            self.page.wait_for_timeout(100)


def _listen(user_id: int):
    """A channel in the user's notice group, and a function giving what reached it until ``until(notice)``."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{user_id}", channel)

    async def gather(until, timeout):
        notices = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = await asyncio.wait_for(layer.receive(channel), timeout=deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            notices.append(event["message"])
            if until(event["message"]):
                break
        return notices

    return lambda until, timeout=60: async_to_sync(gather)(until, timeout)


@pytest.mark.browser
def test_a_version_page_and_its_dataset_page_turn_ready_from_notices_without_polling(
        page, asgi_server, api, alice, broker, channel_layer_redis):
    from webapp.datasets.services.building import version_build

    version = _queued_version(api)
    sign_in(page, asgi_server)
    dataset_page = page.context.browser.new_page()
    sign_in(dataset_page, asgi_server)
    requests = [_Requests(page), _Requests(dataset_page)]
    page.goto(f"{asgi_server}/versions/{version}/")
    dataset_page.goto(f"{asgi_server}/datasets/{api.get(f'/api/versions/{version}/').json()['dataset']}/")
    api_url = f"/api/versions/{version}/"
    # Each page fetches the version once its notice socket is open (to catch up), then only listens.
    for asked in requests:
        asked.wait_for(api_url)
    assert page.inner_text("[data-version-status]") == "queued" and page.is_hidden("#train-link")

    worker = _as_a_worker(version_build, version_id=version, worker="celery@test")
    page.wait_for_function("document.querySelector('[data-version-status]').textContent === 'ready'", timeout=60000)
    page.wait_for_selector("#version-files a:has-text('train.rec')")
    assert page.is_visible("#train-link")
    dataset_page.wait_for_selector(f"tr[data-version='{version}'][data-status='ready'] .files a:has-text('train.rec')",
                                   timeout=60000)
    assert dataset_page.inner_text(f"tr[data-version='{version}'] .status span") == "ready"
    assert dataset_page.is_visible(f"tr[data-version='{version}'] a.train")
    worker.join(timeout=30)
    links = page.locator("#version-files a").all_inner_texts()
    assert {"train.rec", "train.idx", "train.lst", "val.rec", "images.zip"} <= set(links), links
    # No page asked again: what changed came over the socket.
    for asked in requests:
        assert asked.count(api_url) == 1, asked.paths


@pytest.mark.browser
def test_a_transform_page_reaches_succeeded_from_notices_without_polling(
        page, asgi_server, api, alice, broker, channel_layer_redis, colour_artifact, media):
    from webapp.registry.running import transform_run

    transform = _queued_transform(api, _ready_model(alice, media, colour_artifact), images=200)
    requests = _Requests(page)
    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/transforms/{transform}/")
    api_url = f"/api/transforms/{transform}/"
    requests.wait_for(api_url)
    assert page.inner_text("#transform-state") == "queued" and page.is_visible("#transform-cancel button")

    worker = _as_a_worker(transform_run, transform_id=transform, worker="celery@test")
    page.wait_for_function("document.getElementById('transform-state').textContent === 'succeeded'", timeout=60000)
    worker.join(timeout=30)
    assert page.inner_text("#transform-count") == "200 / 200"
    assert page.eval_on_selector("#transform-progress", "p => p.value") == 1
    assert page.is_visible("#transform-output") and page.locator("#transform-cancel").count() == 0
    assert requests.count(api_url) == 1, requests.paths


def test_a_build_s_notices_are_few_and_end_ready_with_its_files(api, alice, worker, channel_layer_redis):
    heard = _listen(alice.id)
    started = time.monotonic()
    version = _queued_version(api, per_class=150)  # the worker builds it at once
    notices = [n for n in heard(lambda n: n.get("type") == "version" and n["status"] in ("ready", "failed"))
               if n.get("type") == "version"]
    building_seconds = time.monotonic() - started
    assert notices and notices[-1]["status"] == "ready" and notices[-1]["version"] == version, notices
    assert notices[-1]["progress"] == 1.0 and {"train.rec", "val.rec", "train.lst"} <= set(notices[-1]["files"])
    assert notices[0]["status"] == "building"
    progress = [n for n in notices if n["status"] == "building"]
    # At most one progress notice per half second (the first is sent at once), plus the claim's.
    assert len(progress) <= 2 + 2 * building_seconds + 1, (len(progress), building_seconds)


def test_a_transform_s_notices_carry_what_its_page_draws(api, alice, worker, channel_layer_redis, colour_artifact,
                                                         media):
    heard = _listen(alice.id)
    transform = _queued_transform(api, _ready_model(alice, media, colour_artifact), images=40)
    notices = [n for n in heard(lambda n: n.get("type") == "transform" and n["state"] == "succeeded")
               if n.get("type") == "transform"]
    assert notices[-1] == {"type": "transform", "transform": transform, "state": "succeeded", "progress": 1.0,
                           "done": 40, "total": 40, "failed": 0, "reason": ""}, notices
    assert notices[0]["state"] == "running" and notices[0]["total"] == 40


def test_a_notice_with_the_channel_layer_down_is_logged_and_the_work_goes_on(settings, alice, caplog):
    from webapp.core.notices import notify

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]}}}
    with caplog.at_level(logging.WARNING, logger="webapp.core.notices"):
        assert notify(alice.id, {"type": "version", "version": 1, "status": "ready"}) is False
    assert "could not send a version notice to user" in caplog.text


def test_throttle_lets_one_progress_notice_through_per_interval():
    from webapp.core.notices import Throttle

    throttle = Throttle(interval=0.2)
    assert throttle.due() and not throttle.due()
    time.sleep(0.25)
    assert throttle.due()
