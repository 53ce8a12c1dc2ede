"""The small holes of issue 11, item 14, each closed: names that climb out of a zip or hide characters,
WebSocket origins on another port, world-readable secrets, absurd epochs, and API errors that were HTML."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from tests.support.api import api_client, upload
from tests.support.images import jpeg_bytes, zip_bytes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="wonderland-42")


@pytest.fixture
def api(alice, settings):
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)  # the web process makes it at start
    return api_client(alice)


def test_the_images_zip_of_a_class_named_to_climb_out_holds_no_climbing_member(api, worker):
    from webapp.datasets.models import DatasetVersion

    dataset = api.post("/api/datasets/", {"name": "climb"}, format="json").json()["id"]
    evil = api.post(f"/api/datasets/{dataset}/classes/", {"name": "../../evil"}, format="json").json()["id"]
    rooted = api.post(f"/api/datasets/{dataset}/classes/", {"name": "/etc"}, format="json").json()["id"]
    assert upload(api, dataset, {f"{i}.jpg": jpeg_bytes(seed=i) for i in range(8)}).json()["accepted"] == 8
    images = [image["id"] for image in api.get(f"/api/datasets/{dataset}/images/").json()["results"]]
    api.post(f"/api/datasets/{dataset}/labels/", {"images": images[:4], "set": evil}, format="json")
    api.post(f"/api/datasets/{dataset}/labels/", {"images": images[4:], "set": rooted}, format="json")
    version = api.post(f"/api/datasets/{dataset}/versions/").json()["id"]
    deadline = time.monotonic() + 60
    while DatasetVersion.objects.get(id=version).status != "ready":
        assert time.monotonic() < deadline and DatasetVersion.objects.get(id=version).status != "failed"
        time.sleep(0.2)
    answer = api.get(f"/api/versions/{version}/files/images.zip")
    names = zipfile.ZipFile(io.BytesIO(b"".join(answer.streaming_content))).namelist()
    assert len(names) == 8
    for name in names:
        parts = name.split("/")
        assert not name.startswith("/") and "\\" not in name and ".." not in parts and "" not in parts, name
        assert parts[0] in ("train", "val") and len(parts) == 3, name


@pytest.mark.parametrize("name, reason", [
    ("cat\x00dog", "cannot hold a control character (U+0000, character 4)"),  # the JSON \u0000
    ("gpj\u202eexe.jpg", "cannot hold an invisible formatting character (U+202E RIGHT-TO-LEFT OVERRIDE, character 4)"),
    ("zero\u200bwidth", "invisible formatting character (U+200B ZERO WIDTH SPACE"),
    ("x" * 201, "at most 200 characters (this one has 201)"),
])
def test_class_names_refuse_hidden_characters_and_the_length_limit_on_create_and_rename(api, name, reason):
    dataset = api.post("/api/datasets/", {"name": "names"}, format="json").json()["id"]
    created = api.post(f"/api/datasets/{dataset}/classes/", {"name": name}, format="json")
    assert created.status_code == 400 and reason in created.json()["fields"]["name"][0]
    cat = api.post(f"/api/datasets/{dataset}/classes/", {"name": "cat"}, format="json").json()["id"]
    renamed = api.patch(f"/api/datasets/{dataset}/classes/{cat}/", {"name": name}, format="json")
    assert renamed.status_code == 400 and reason in renamed.json()["fields"]["name"][0]
    assert [c["name"] for c in api.get(f"/api/datasets/{dataset}/classes/").json()] == ["cat"]


def test_an_upload_folder_no_class_may_be_named_is_refused_with_the_reason_and_the_rest_kept(api):
    dataset = api.post("/api/datasets/", {"name": "folders"}, format="json").json()["id"]
    archive = zip_bytes({"ok/1.jpg": jpeg_bytes(seed=1), "evil\u202egpj/2.jpg": jpeg_bytes(seed=2)})
    report = upload(api, dataset, {"set.zip": archive}).json()
    assert report["accepted"] == 1
    [rejected] = report["rejected"]
    assert "RIGHT-TO-LEFT OVERRIDE" in rejected["reason"]
    assert [c["name"] for c in api.get(f"/api/datasets/{dataset}/classes/").json()] == ["ok"]


async def _socket_opens(application, cookie: str, origin: bytes, host: bytes, scheme: str = "ws") -> bool:
    communicator = WebsocketCommunicator(application, "/ws/notices/",
                                         headers=[(b"cookie", cookie.encode()), (b"origin", origin), (b"host", host)])
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
def test_the_websocket_origin_must_match_scheme_host_and_port(alice, settings):
    import asyncio

    from webapp.config.asgi import application

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    browser = Client()
    browser.force_login(alice)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"

    def opens(origin: bytes, host: bytes, scheme: str = "ws") -> bool:
        return asyncio.run(_socket_opens(application, cookie, origin, host, scheme))

    assert opens(b"http://localhost:8000", b"localhost:8000")
    assert opens(b"http://localhost", b"localhost")
    assert opens(b"https://localhost", b"localhost", scheme="wss")  # behind the HTTPS proxy
    # Another port on the same host (any local page or service), another scheme, no Origin, another host.
    assert not opens(b"http://localhost:9999", b"localhost:8000")
    assert not opens(b"http://localhost", b"localhost:8000")
    assert not opens(b"http://localhost:8000", b"localhost:8000", scheme="wss")
    assert not opens(b"", b"localhost:8000")
    assert not opens(b"http://evil.example:8000", b"evil.example:8000")


def test_the_secret_key_and_the_sqlite_database_are_made_owner_only(tmp_path):
    """A first start in a fresh state folder under the usual umask (022), as ``./dev run`` does."""
    state = tmp_path / "var"
    env = {**os.environ, "ICSTUDIO_VAR": str(state)}
    env.pop("SECRET_KEY", None), env.pop("DATABASE_URL", None)
    code = ("import django; django.setup(); from django.db import connection; "
            "connection.cursor().execute('CREATE TABLE IF NOT EXISTS t (x int)')")

    def start():
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120, preexec_fn=lambda: os.umask(0o022),
                       env={**env, "DJANGO_SETTINGS_MODULE": "webapp.config.settings"})

    start()
    for name in ("secret_key", "icstudio.sqlite3"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    (state / "secret_key").chmod(0o644)  # left readable by an older version
    (state / "icstudio.sqlite3").unlink()
    start()
    for name in ("secret_key", "icstudio.sqlite3"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    assert len((state / "secret_key").read_text().strip()) >= 50


def test_epochs_past_the_schemas_maximum_are_refused_with_the_reason(api):
    from classifier.hyperparameters import HyperparameterError, SCHEMA, parse_hyperparameters

    with pytest.raises(HyperparameterError) as refused:
        parse_hyperparameters({"num_classes": 2, "num_training_samples": 10, "epochs": "1e12"})
    assert refused.value.problems["epochs"] == "must be between 1 and 10000, not 1000000000000"
    assert SCHEMA["epochs"].maximum == 10_000 and "At most 10,000" in SCHEMA["epochs"].help
    assert parse_hyperparameters({"num_classes": 2, "num_training_samples": 10, "epochs": "10000"}).epochs == 10_000


def test_api_errors_are_json_whatever_the_client_accepts_or_sends(api, alice, settings):
    answer = api.get("/api/datasets/999/", HTTP_ACCEPT="text/html")  # a browser: DRF answered its HTML page
    assert answer.status_code == 404 and answer["Content-Type"] == "application/json"
    assert answer.json() == {"error": "Not found.", "fields": {}}
    schema = api.get("/api/schema/?format=nope")
    assert schema.status_code == 404 and schema["Content-Type"] == "application/json"
    deep = api.post("/api/datasets/", b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    assert deep.status_code == 400 and deep.json()["error"] == "JSON parse error - nested too deeply"
    dataset = api.post("/api/datasets/", {"name": "d"}, format="json").json()["id"]
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    many = upload(api, dataset, {f"{i}.jpg": jpeg_bytes(seed=i) for i in range(4)})
    assert many.status_code == 400 and many["Content-Type"] == "application/json"
    assert many.json()["error"] == "too many files in one request: at most 3; send them in parts"
    fields = api.post("/api/datasets/", "&".join(f"f{i}=1" for i in range(1500)),
                      content_type="application/x-www-form-urlencoded")
    assert fields.status_code == 400 and "too many form fields" in json.loads(fields.content)["error"]
