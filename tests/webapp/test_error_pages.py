"""When something is missing, refused or broken: a page in plain words with a way back, JSON under /api/,
and the favicon every browser asks for."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from webapp.config import urls as site_urls

pytestmark = pytest.mark.django_db


def _broken(request):
    raise RuntimeError("a bug in a view")


# The site's own URLs and error handlers, plus a page and an API view that fail as a bug would.
urlpatterns = [path("broken/", _broken), path("api/broken/", _broken), *site_urls.urlpatterns]
handler400, handler403, handler404, handler500 = (site_urls.handler400, site_urls.handler403, site_urls.handler404,
                                                  site_urls.handler500)


@pytest.fixture
def browser(alice):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    return client


def test_a_missing_page_says_so_with_a_way_back(browser, bob, api, dataset):
    for url in ("/no-such-page/", f"/datasets/{dataset['id']}/images/999999/image"):
        page = browser.get(url)
        text = page.content.decode()
        assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
        assert "Page not found" in text and 'href="/"' in text and "Go to your datasets" in text, text
        assert 'rel="icon"' in text and "css/app.css" in text  # the site's own look, not Django's bare page
    # Another user's dataset is as missing as one that never was.
    other = Client()
    other.force_login(bob)
    assert "Page not found" in other.get(f"/datasets/{dataset['id']}/").content.decode()


def test_api_paths_answer_json_not_a_page(browser, api):
    missing = api.get("/api/no-such-thing/")
    assert missing.status_code == 404 and missing.json() == {"error": "Not found.", "fields": {}}


def test_a_failing_page_is_a_styled_500_and_an_api_failure_is_json(settings, browser):
    settings.ROOT_URLCONF = __name__
    page = browser.get("/broken/")
    text = page.content.decode()
    assert page.status_code == 500 and "Something broke" in text and "nothing you had saved is lost" in text
    assert "a bug in a view" not in text and "Traceback" not in text
    assert 'href="/"' in text
    answer = browser.get("/api/broken/")
    assert answer.status_code == 500 and answer["Content-Type"] == "application/json"
    assert "server failed" in answer.json()["error"] and answer.json()["fields"] == {}


def test_a_stale_form_gets_a_page_that_says_to_reload(alice):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    page = strict.post("/account/token/")
    text = page.content.decode()
    assert page.status_code == 403 and "Not allowed" in text and "reload the page" in text
    assert "CSRF verification failed" not in text  # Django's bare page


def test_the_favicon_is_there_for_every_page(client):
    page = Client()
    signin = page.get("/signin/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in signin
    icon = page.get("/favicon.ico", follow=True)  # asked for without signing in, by the browser itself
    assert icon.status_code == 200 and b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"
    svg = page.get("/static/favicon.svg")
    assert svg.status_code == 200 and b"<svg" in b"".join(svg.streaming_content)
