"""A person's path through the pages, in headless Chromium: sign in, create a dataset, drop a folder,
label with the keyboard, freeze a version and see its .rec listed. Screenshots go to test-artifacts/."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.webapp.conftest import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def page(monkeypatch):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Chromium for the browser tests (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls here stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20000)
        yield page
        browser.close()


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_sign_in_upload_a_folder_label_with_keys_and_freeze(page, live_server, worker, django_user_model, tmp_path):
    django_user_model.objects.create_user(username="alice", password="wonderland-42")
    folder = tmp_path / "animals"
    for n, name in enumerate(("cats", "dogs")):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            (folder / name / f"{name}{i}.jpg").write_bytes(jpeg_bytes((200, 40 + 150 * n, 40), seed=10 * n + i))
    (folder / "cats" / "broken.jpg").write_bytes(b"not really a jpeg")

    page.goto(f"{live_server.url}/")
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
    _shot(page, "1-uploaded")

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
    _shot(page, "2-labeled")
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
    _shot(page, "3-version-built")
    links = page.locator("#versions .files a").all_inner_texts()
    assert {"train.rec", "train.idx", "train.lst", "val.rec"} <= set(links)
