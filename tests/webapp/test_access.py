"""Every page and endpoint needs a signed-in user, and nobody reaches another user's objects."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.support.api import upload
from tests.support.images import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_things(api, alice, dataset):
    from webapp.registry.models import BatchTransform, RegisteredModel

    # Two images: freezing holds one out for validation (one image alone is refused).
    upload(api, dataset["id"], {"cats/a.jpg": jpeg_bytes(), "cats/b.jpg": jpeg_bytes(seed=1)})
    image = api.get(f"/api/datasets/{dataset['id']}/images/").json()["results"][0]
    label = api.get(f"/api/datasets/{dataset['id']}/classes/").json()[0]
    version = api.post(f"/api/datasets/{dataset['id']}/versions/").json()
    model = RegisteredModel.objects.create(owner=alice, name="alices-model", source="imported", artifact="models/x/model.tar.gz",
                                 num_classes=2, class_names=["a", "b"])
    transform = BatchTransform.objects.create(owner=alice, model=model, kind="zip", input_name="in.zip",
                                              directory="transforms/x", state="succeeded")
    return {"d": dataset["id"], "c": label["id"], "i": image["id"], "v": version["id"], "m": model.id,
            "t": transform.id}


API_CALLS = [
    ("get", "/api/datasets/{d}/"), ("patch", "/api/datasets/{d}/"), ("delete", "/api/datasets/{d}/"),
    ("get", "/api/datasets/{d}/classes/"), ("post", "/api/datasets/{d}/classes/"),
    ("patch", "/api/datasets/{d}/classes/{c}/"), ("delete", "/api/datasets/{d}/classes/{c}/"),
    ("post", "/api/datasets/{d}/classes/{c}/merge/"), ("post", "/api/datasets/{d}/uploads/"),
    ("get", "/api/datasets/{d}/images/"), ("post", "/api/datasets/{d}/labels/"), ("post", "/api/datasets/{d}/split/"),
    ("get", "/api/datasets/{d}/versions/"), ("post", "/api/datasets/{d}/versions/"), ("get", "/api/versions/{v}/"),
    ("get", "/api/versions/{v}/files/train.lst"), ("get", "/api/versions/{v}/files/images.zip"),
    ("get", "/api/models/{m}/"), ("patch", "/api/models/{m}/"), ("delete", "/api/models/{m}/"),
    ("get", "/api/models/{m}/artifact/"), ("get", "/api/transforms/{t}/"), ("get", "/api/transforms/{t}/output/"),
]
PAGES = [
    ("get", "/datasets/{d}/"), ("get", "/datasets/{d}/delete/"), ("post", "/datasets/{d}/delete/"),
    ("post", "/datasets/{d}/rename/"), ("post", "/datasets/{d}/classes/"), ("post", "/datasets/{d}/classes/{c}/"),
    ("post", "/datasets/{d}/split/"), ("post", "/datasets/{d}/freeze/"), ("get", "/datasets/{d}/images/{i}/thumbnail"),
    ("get", "/datasets/{d}/images/{i}/image"), ("get", "/versions/{v}/"),
    ("get", "/models/{m}/"), ("post", "/models/{m}/"), ("post", "/models/{m}/delete/"), ("post", "/models/{m}/default/"),
    ("get", "/transforms/{t}/"),
]


def test_another_user_gets_404_from_every_endpoint(alices_things, bob_api, api):
    for method, url in API_CALLS:
        response = getattr(bob_api, method)(url.format(**alices_things), {}, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json() == {"error": "Not found.", "fields": {}}
    assert api.get("/api/datasets/{d}/".format(**alices_things)).status_code == 200  # still there


def test_another_user_gets_404_from_every_page(alices_things, bob, api):
    browser = Client()
    browser.force_login(bob)
    for method, url in PAGES:
        assert getattr(browser, method)(url.format(**alices_things)).status_code == 404, (method, url)
    assert api.get("/api/datasets/{d}/".format(**alices_things)).status_code == 200


def test_bobs_list_does_not_show_alices_datasets(alices_things, bob_api, bob):
    assert bob_api.get("/api/datasets/").json() == []
    browser = Client()
    browser.force_login(bob)
    assert b"pets" not in browser.get("/").content


def test_anonymous_visitors_are_sent_to_sign_in_and_api_calls_get_401(alices_things):
    anonymous = Client()
    for method, url in PAGES + [("get", "/"), ("get", "/account/")]:
        response = getattr(anonymous, method)(url.format(**alices_things))
        assert response.status_code == 302 and response.url.startswith("/signin/"), url
    assert anonymous.get("/models/").status_code == 302
    for method, url in API_CALLS + [("get", "/api/datasets/"), ("get", "/api/schema/"), ("get", "/api/models/"),
                                    ("get", "/api/transforms/"), ("post", "/api/models/{m}/predict/")]:
        response = getattr(anonymous, method)(url.format(**alices_things))
        assert response.status_code == 401, url
        if "schema" not in url:
            assert "error" in response.json()


def test_sign_up_sign_in_and_token(client, django_user_model):
    response = client.post("/signup/", {"username": "carol", "password1": "a-long-secret-9", "password2": "a-long-secret-9"})
    assert response.status_code == 302
    page = client.post("/account/token/", {"name": "laptop"})
    token = re.search(r'<pre id="new-api-token">([^<]+)</pre>', page.content.decode()).group(1)
    assert client.get("/account/").content.decode().count(token) == 0  # shown once
    client.post("/signout/")
    assert client.get("/").status_code == 302
    assert client.post("/signin/", {"username": "carol", "password": "a-long-secret-9"}).status_code == 302
    assert client.get("/").status_code == 200
    api_token = Client().post("/api/auth/token/", {"username": "carol", "password": "a-long-secret-9"}).json()["token"]
    assert api_token != token  # a new one; both work
    for key in (token, api_token):
        assert Client().get("/api/datasets/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_openapi_schema_is_served_to_signed_in_users(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/datasets/{dataset_id}/uploads/" in schema["paths"]
    assert "/api/versions/{version_id}/files/{name}" in schema["paths"]


def test_prediction_endpoints_keep_models_to_their_owner(alices_things, bob_api, bob):
    from tests.support.api import api_key

    answer = bob_api.post("/api/models/{m}/predict/".format(**alices_things), jpeg_bytes(), content_type="image/jpeg")
    assert answer.status_code == 404 and "no model" in answer.json()["error"]
    token = api_key(bob)
    answer = Client().post("/endpoints/alices-model/invocations", jpeg_bytes(), content_type="image/jpeg",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert answer.status_code == 404 and answer["x-amzn-ErrorType"] == "ValidationError"
    assert answer.json()["message"].startswith("Endpoint alices-model of account bob not found")
    # A signed-in browser session is not enough for the SageMaker endpoints: they take API tokens only.
    browser = Client()
    browser.force_login(bob)
    assert browser.post("/invocations", jpeg_bytes(), content_type="image/jpeg").status_code == 401
    assert bob_api.get("/api/models/").json() == [] and bob_api.get("/api/transforms/").json() == []
