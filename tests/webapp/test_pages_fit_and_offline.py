"""Every page a user can reach, in headless Chromium at a phone's 390 px and with no network but this
server: nothing scrolls sideways, nothing is asked of another host, and the API reference renders."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.support.api import colour_version, import_model
from tests.support.browser import SHOTS, sign_in
from tests.support.images import colour_jpeg, zip_bytes
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}


def offline(page) -> list[str]:
    """Abort every request to a host other than this server's; return the list of what was asked."""
    asked = []

    def route(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            asked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return asked


def overflow(page) -> dict:
    """How wide the page is, and the outermost elements that stick out past the viewport's right edge."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')].filter(e => {
            const box = e.getBoundingClientRect();
            return box.width && box.right > width + 1 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > width + 1);
        }).slice(0, 5).map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.trim().replace(/\\s+/g, '.') : ''} right=${Math.round(e.getBoundingClientRect().right)}`);
        return {scrollWidth: document.documentElement.scrollWidth, wide};
    }""")


@pytest.fixture
def a_users_things(api, alice, worker, colour_artifact):
    """What a user has after the first hour: a labeled dataset, a version, a finished job, a model, a transform."""
    alice.is_staff = True  # the health page is for staff
    alice.save()
    version = colour_version(api, per_class=8)
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": {
        "num_layers": "20", "image_shape": "3,32,32", "epochs": "2", "mini_batch_size": "4"}}, format="json").json()
    model = import_model(api, colour_artifact, name="colour-squares-with-a-long-name")
    archive = zip_bytes({f"photos/{i}.jpg": colour_jpeg(i % 3, seed=i) for i in range(6)})
    transform = api.post("/api/transforms/", {"model": model["id"], "input": SimpleUploadedFile("photos.zip", archive)},
                         format="multipart").json()
    wait_until(lambda: api.get(f"/api/jobs/{job['id']}/").json()["state"] in ("succeeded", "failed"), timeout=300)
    wait_until(lambda: api.get(f"/api/transforms/{transform['id']}/").json()["state"] in ("succeeded", "failed"))
    from webapp.datasets.models import DatasetVersion

    dataset = DatasetVersion.objects.get(id=version).dataset_id
    return {"dataset": dataset, "version": version, "job": job["id"], "model": model["id"],
            "transform": transform["id"]}


@pytest.mark.browser
def test_every_page_fits_a_phone_and_asks_nothing_of_another_host(page, asgi_server, a_users_things):
    page.set_viewport_size(PHONE)
    asked = offline(page)
    things = a_users_things
    anonymous = ["/signin/", "/signup/"]
    signed_in = [
        "/", f"/datasets/{things['dataset']}/", f"/versions/{things['version']}/", "/jobs/",
        f"/versions/{things['version']}/train/", f"/jobs/{things['job']}/", f"/jobs/compare/?ids={things['job']}",
        "/models/", f"/models/{things['model']}/", f"/transforms/{things['transform']}/", "/account/", "/health/",
        "/no-such-page/", "/api/docs/",
    ]
    SHOTS.mkdir(parents=True, exist_ok=True)
    too_wide = {}
    for index, path in enumerate(anonymous + ["sign in"] + signed_in):
        if path == "sign in":
            sign_in(page, asgi_server)
            continue
        page.goto(f"{asgi_server}{path}", wait_until="networkidle")
        if path == "/api/docs/":
            page.wait_for_selector("text=IC Studio API")
        name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()).strip("-") or "datasets"
        page.screenshot(path=str(SHOTS / f"phone-{index:02d}-{name}.png"), full_page=True)
        measured = overflow(page)
        if measured["scrollWidth"] > PHONE["width"]:
            too_wide[path] = measured
    assert not too_wide, too_wide
    assert not asked, asked


@pytest.mark.browser
def test_the_api_reference_renders_with_no_network(page, asgi_server, alice):
    asked = offline(page)
    sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/api/docs/", wait_until="networkidle")
    # Redoc's own rendering of the schema: the title, the operations menu and one operation's path.
    page.wait_for_selector("h1:has-text('IC Studio API')", timeout=20000)
    assert page.locator("[role=menuitem]").count() > 10
    assert "/api/datasets/{dataset_id}/uploads/" in page.inner_text("body")
    assert not asked, asked


ASSET = re.compile(r"""(?:src|href|url\()\s*=?\s*["']?(https?:)?//(?!127\.0\.0\.1|localhost)[^"')\s]+""", re.I)


def test_no_template_or_static_file_loads_anything_from_another_host(alice):
    from django.test import Client

    found = []
    for folder in (ROOT / "templates", ROOT / "static"):
        for path in folder.rglob("*"):
            if path.suffix in (".html", ".css", ".js", ".svg"):
                found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in ASSET.finditer(path.read_text())]
    # The API docs page is drf-spectacular's template, not ours: what it renders counts too.
    browser = Client()
    browser.force_login(alice)
    docs = browser.get("/api/docs/")
    assert docs.status_code == 200
    found += [f"/api/docs/: {m.group(0)}" for m in ASSET.finditer(docs.content.decode())]
    assert not found, found
