"""Models and every way to predict with them: a real uvicorn, a real serving worker, real MXNet,
and boto3's sagemaker-runtime client unchanged."""
from __future__ import annotations

import io
import json
import tarfile
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.support.api import api_key, colour_version, import_model
from tests.support.aws import runtime as signed_runtime
from tests.support.aws import user_runtime as _runtime
from tests.support.images import COLOUR_CLASSES, COLOURS, colour_jpeg, jpeg_bytes, zip_bytes
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _post(url, body, headers):
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_boto3_invoke_endpoint_against_the_web_app_gives_the_library_s_probabilities(
        api, alice, serving, asgi_server, colour_artifact):
    from classifier.inference import Predictor

    model = import_model(api, colour_artifact, name="colour-squares")
    assert model["state"] == "ready", model
    assert model["class_names"] == COLOUR_CLASSES and model["num_layers"] == 20 and model["image_shape"] == [3, 32, 32]
    images = [colour_jpeg(label, seed=10 + label) for label in range(3)]
    expected = Predictor(colour_artifact).predict(images)

    runtime = _runtime(asgi_server, alice)
    for label, (image, row) in enumerate(zip(images, expected)):
        response = runtime.invoke_endpoint(EndpointName="colour-squares", ContentType="image/jpeg", Body=image)
        assert response["ContentType"] == "application/json"
        probabilities = json.loads(response["Body"].read())
        np.testing.assert_allclose(probabilities, row, rtol=1e-4, atol=1e-5)
        assert int(np.argmax(probabilities)) == label
    response = runtime.invoke_endpoint(EndpointName="colour-squares", ContentType="application/x-image",
                                       Body=images[2], Accept="application/jsonlines")
    assert response["ContentType"] == "application/jsonlines"
    np.testing.assert_allclose(json.loads(response["Body"].read())["prediction"], expected[2], rtol=1e-4, atol=1e-5)

    # POST /invocations: the default model (the first one is), or boto3's TargetModel.
    assert model["is_default"]
    status, _, body = _post(f"{asgi_server}/invocations", images[1],
                            {"Content-Type": "image/jpeg", "Authorization": f"Token {api_key(alice)}"})
    assert status == 200 and int(np.argmax(json.loads(body))) == 1
    import botocore

    with pytest.raises(botocore.exceptions.ClientError) as refused:  # the endpoint name wins over TargetModel
        runtime.invoke_endpoint(EndpointName="anything", TargetModel="colour-squares", ContentType="image/jpeg",
                                Body=images[0])
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    # On /invocations the header names the model, over the default.
    status, _, body = _post(f"{asgi_server}/invocations", images[1], {
        "Content-Type": "image/jpeg", "Authorization": f"Token {api_key(alice)}", "X-Amzn-SageMaker-Target-Model": "gone"})
    assert status == 404 and "'gone'" in json.loads(body)["message"]

    status, _, body = _post(f"{asgi_server}/ping", None, {})  # a POST: not the health check
    assert status == 405
    with urllib.request.urlopen(f"{asgi_server}/ping", timeout=5) as response:
        assert response.status == 200 and json.loads(response.read())["serving_workers"] >= 1


def test_bad_invocations_are_refused_in_sagemakers_error_shape(api, alice, bob, serving, asgi_server, colour_artifact):
    from webapp.registry.models import RegisteredModel

    import_model(api, colour_artifact, name="colour-squares")
    image = colour_jpeg(0)
    url = f"{asgi_server}/endpoints/colour-squares/invocations"
    auth = {"Authorization": f"Token {api_key(alice)}"}

    def call(body=image, content_type="image/jpeg", headers=auth, target=url):
        status, response_headers, raw = _post(target, body, {"Content-Type": content_type, **headers})
        return status, response_headers.get("x-amzn-ErrorType"), json.loads(raw) if status != 200 else raw

    assert call()[0] == 200
    model_said = "Received client error ({}) from the model"
    cases = [
        (call(headers={}), 401, "MissingAuthenticationTokenException", "authentication required"),
        (call(headers={"Authorization": "Token not-a-token"}), 401, "UnrecognizedClientException", "not valid"),
        # What the model's container refuses reaches the caller as SageMaker's ModelError, with its status.
        (call(content_type="text/csv"), 424, "ModelError", model_said.format(415)),
        (call(body=b"GIF89a not what we take"), 424, "ModelError", "not a JPEG or PNG"),
        (call(body=b"\xff\xd8\xff\xe0" + bytes(40)), 424, "ModelError", "corrupt"),
        (call(headers={**auth, "Accept": "text/csv"}), 424, "ModelError", "application/jsonlines"),
        (call(body=b"\xff\xd8\xff" + bytes(7 << 20)), 413, "ValidationError", "at most"),
        (call(target=f"{asgi_server}/endpoints/nothing-here/invocations"), 404, "ValidationError",
         "Endpoint nothing-here of account alice not found"),
        # Bob's token does not reach Alice's endpoint.
        (call(headers={"Authorization": f"Token {api_key(bob)}"}), 404, "ValidationError",
         "Endpoint colour-squares of account bob not found"),
    ]
    for (status, code, body), expected_status, expected_code, words in cases:
        assert (status, code) == (expected_status, expected_code) and words in body["message"], (status, code, body)
    status, code, body = call(body=b"GIF89a not what we take")
    assert body["OriginalStatusCode"] == 400 and body["OriginalMessage"] == "the body is not a JPEG or PNG image"
    RegisteredModel.objects.filter(name="colour-squares").update(state=RegisteredModel.State.VALIDATING)
    status, code, body = call()
    assert (status, code) == (429, "ModelNotReadyException") and "being checked" in body["message"]


def test_boto3_errors_carry_sagemakers_code_and_a_message(api, alice, serving, asgi_server, colour_artifact):
    """What `e.response["Error"]` holds in a real boto3 call, where it used to say `(404) ...: ` and nothing."""
    import botocore.exceptions

    import_model(api, colour_artifact, name="colour-squares")
    runtime = _runtime(asgi_server, alice, retries={"total_max_attempts": 1})

    with pytest.raises(runtime.exceptions.ValidationError) as missing:
        runtime.invoke_endpoint(EndpointName="nothing-here", ContentType="image/jpeg", Body=colour_jpeg(0))
    error = missing.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("Endpoint nothing-here of account alice not found")
    assert "Endpoint nothing-here of account alice not found" in str(missing.value)
    assert missing.value.response["ResponseMetadata"]["RequestId"]

    with pytest.raises(runtime.exceptions.ModelError) as refused:
        runtime.invoke_endpoint(EndpointName="colour-squares", ContentType="image/png", Body=b"not an image at all")
    assert refused.value.response["Error"] == {
        "Code": "ModelError", "Message": 'Received client error (400) from the model with message '
                                         '"the body is not a JPEG or PNG image".'}
    assert refused.value.response["OriginalStatusCode"] == 400
    assert refused.value.response["OriginalMessage"] == "the body is not a JPEG or PNG image"

    stranger = signed_runtime(asgi_server, "AKIANOBODYSKEY000000", "wrong", retries={"total_max_attempts": 1})
    with pytest.raises(botocore.exceptions.ClientError) as unknown:
        stranger.invoke_endpoint(EndpointName="colour-squares", ContentType="image/jpeg", Body=colour_jpeg(0))
    assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert unknown.value.response["Error"]["Message"] == "The security token included in the request is invalid."


def test_without_a_serving_worker_a_request_fails_clearly(api, alice, worker, asgi_server, colour_artifact):
    model = import_model(api, colour_artifact, name="lonely")
    assert model["state"] == "ready"
    # No serving worker runs: ServiceUnavailable at once, well before a wait for one (30 s by default) would end.
    runtime = _runtime(asgi_server, alice, retries={"total_max_attempts": 1}, read_timeout=10)
    with pytest.raises(runtime.exceptions.ServiceUnavailable) as unavailable:
        runtime.invoke_endpoint(EndpointName="lonely", ContentType="image/jpeg", Body=colour_jpeg(1))
    assert unavailable.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert "no serving worker" in unavailable.value.response["Error"]["Message"]
    status, headers, raw = _post(f"{asgi_server}/ping", None, {})
    assert status == 405 and headers["x-amzn-ErrorType"] == "ValidationError"
    try:
        urllib.request.urlopen(f"{asgi_server}/ping", timeout=5)
        raise AssertionError("/ping answered 200 with no serving worker")
    except urllib.error.HTTPError as down:
        assert down.code == 503 and down.headers["x-amzn-ErrorType"] == "ServiceUnavailable"
        assert "no serving worker" in json.loads(down.read())["message"]


def test_requests_arriving_together_are_answered_in_shared_batches(api, alice, serving, asgi_server, colour_artifact):
    import_model(api, colour_artifact, name="colour-squares")
    headers = {"Content-Type": "image/jpeg", "Authorization": f"Token {api_key(alice)}"}
    images = [(label, colour_jpeg(label, seed=100 + i)) for i, label in enumerate([0, 1, 2] * 8)]

    def call(item):
        label, image = item
        status, response_headers, body = _post(f"{asgi_server}/endpoints/colour-squares/invocations", image, headers)
        assert status == 200, body
        return label, int(np.argmax(json.loads(body))), int(response_headers["X-IC-Batch-Size"])

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(call, images))
    assert sum(label == predicted for label, predicted, _ in answers) >= 22
    assert max(size for *_, size in answers) > 1, "every request had a forward pass of its own"
    assert serving.cache.loads == 1  # loaded once, kept warm


def test_a_succeeded_job_becomes_a_model_to_download_predict_and_delete(api, alice, bob_api, serving, asgi_server, media):
    version = colour_version(api, classes=("red", "blue"), per_class=16)
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": {
        "num_layers": "20", "image_shape": "3,32,32", "epochs": "2", "mini_batch_size": "8", "learning_rate": "0.05"}},
        format="json").json()
    wait_until(lambda: api.get(f"/api/jobs/{job['id']}/").json()["state"] in ("succeeded", "failed"), timeout=240)
    job = api.get(f"/api/jobs/{job['id']}/").json()
    assert job["state"] == "succeeded", job["reason"]

    [model] = api.get("/api/models/").json()
    assert model["source"] == "trained" and model["job"] == job["id"] and model["dataset_version"] == version
    assert sorted(model["class_names"]) == ["blue", "red"] and model["state"] == "ready" and model["is_default"]
    assert model["metrics"]["validation:accuracy"] == job["metrics"]["validation:accuracy"]
    assert model["endpoint"] == f"/endpoints/{model['name']}/invocations"

    download = api.get(f"/api/models/{model['id']}/artifact/")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == (Path(media) / job["artifact"]).read_bytes()


    answer = _post(f"{asgi_server}/api/models/{model['id']}/predict/?k=2", jpeg_bytes(COLOURS["red"], size=(32, 32)),
                   {"Content-Type": "image/jpeg", "Authorization": f"Token {api_key(alice)}"})
    assert answer[0] == 200, answer
    body = json.loads(answer[2])
    assert [entry["label"] for entry in body["top"]] == ["red", "blue"] and body["top"][0]["probability"] > 0.5
    assert body["model_ms"] > 0 and body["server_ms"] >= body["model_ms"]

    assert bob_api.get(f"/api/models/{model['id']}/").status_code == 404
    assert bob_api.get(f"/api/models/{model['id']}/artifact/").status_code == 404
    assert bob_api.delete(f"/api/models/{model['id']}/").status_code == 404
    assert api.delete(f"/api/models/{model['id']}/").status_code == 204
    assert not (Path(media) / job["artifact"]).exists() and api.get("/api/models/").json() == []


def test_import_checks_the_layout_then_a_worker_checks_the_weights(api, worker, colour_artifact, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    good = import_model(api, colour_artifact, name="good")
    assert good["state"] == "ready" and good["source"] == "imported" and good["num_classes"] == 3

    def post(data: bytes, name=""):
        return api.post("/api/models/", {"artifact": SimpleUploadedFile("model.tar.gz", data), "name": name},
                        format="multipart")

    response = post(b"not a tarball at all")
    assert response.status_code == 400 and "not a readable model.tar.gz" in response.json()["error"]
    assert post(colour_artifact.read_bytes(), name="good").json()["fields"]["name"]  # names are unique
    assert post(colour_artifact.read_bytes(), name="-bad name-").status_code == 400

    # Same layout, but weights from another network: the layout passes, the worker refuses it.
    members = {}
    with tarfile.open(colour_artifact) as tar:
        for member in tar.getmembers():
            members[member.name] = tar.extractfile(member).read()
    symbol = json.loads(members["image-classification-symbol.json"])
    for node in symbol["nodes"]:
        if node["name"] == "fc1":
            node.setdefault("attrs", {})["num_hidden"] = "7"
    members["image-classification-symbol.json"] = json.dumps(symbol).encode()
    del members["class-names.json"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    mismatched = post(buffer.getvalue(), name="mismatched")
    assert mismatched.status_code == 201 and mismatched.json()["state"] == "validating"
    model = wait_until(lambda: (m := api.get(f"/api/models/{mismatched.json()['id']}/").json())["state"] != "validating" and m)
    assert model["state"] == "invalid" and model["reason"], model


def test_batch_transform_of_200_images_returns_200_lines_in_order(api, worker, colour_artifact, bob_api):
    model = import_model(api, colour_artifact, name="colour-squares")
    labels = [(i * 7) % 3 for i in range(200)]
    members = {f"batch/{i:03d}-{['r', 'g', 'b'][label]}.jpg": colour_jpeg(label, seed=1000 + i)
               for i, label in enumerate(labels)}
    names = list(members)
    names.reverse()  # archive order, not name order, is the output order
    archive = zip_bytes({name: members[name] for name in names})
    from django.core.files.uploadedfile import SimpleUploadedFile

    created = api.post("/api/transforms/", {"model": model["id"], "input": SimpleUploadedFile("photos.zip", archive)},
                       format="multipart")
    assert created.status_code == 201, created.json()
    transform = wait_until(lambda: (t := api.get(f"/api/transforms/{created.json()['id']}/").json())["state"]
                           in ("succeeded", "failed") and t)
    assert transform["state"] == "succeeded" and transform["total"] == transform["done"] == 200, transform
    assert bob_api.get(f"/api/transforms/{transform['id']}/").status_code == 404
    output = api.get(transform["output"])
    lines = b"".join(output.streaming_content).decode().splitlines()
    assert len(lines) == 200
    rows = [json.loads(line) for line in lines]
    assert [row["file"] for row in rows] == names
    right = sum(int(np.argmax(row["prediction"])) == "rgb".index(row["file"][-5]) for row in rows)
    assert right >= 190 and all(len(row["prediction"]) == 3 for row in rows)


def test_batch_transform_of_a_rec_names_lines_from_its_lst_and_keeps_bad_images_in_place(
        api, worker, colour_artifact, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from classifier import recordio

    model = import_model(api, colour_artifact, name="colour-squares")
    lst = []
    images = [colour_jpeg(i % 3, seed=i) for i in range(5)]
    images[2] = b"this record holds no image"
    with recordio.RecordWriter(tmp_path / "set.rec") as writer:
        for index, image in enumerate(images):
            writer.write(recordio.pack_record(recordio.IRHeader(0, float(index % 3), index + 10, 0), image))
            lst.append(f"{index + 10}\t{index % 3}\tfolder/img{index}.jpg")
    created = api.post("/api/transforms/", {
        "model": model["id"], "input": SimpleUploadedFile("set.rec", (tmp_path / "set.rec").read_bytes()),
        "lst": SimpleUploadedFile("set.lst", ("\n".join(lst) + "\n").encode())}, format="multipart")
    assert created.status_code == 201, created.json()
    transform = wait_until(lambda: (t := api.get(f"/api/transforms/{created.json()['id']}/").json())["state"]
                           in ("succeeded", "failed") and t)
    assert transform["state"] == "succeeded" and transform["failed"] == 1, transform
    rows = [json.loads(line) for line in b"".join(api.get(transform["output"]).streaming_content).decode().splitlines()]
    assert [row["file"] for row in rows] == [f"folder/img{i}.jpg" for i in range(5)]
    assert "error" in rows[2] and "prediction" not in rows[2]
    assert [int(np.argmax(rows[i]["prediction"])) for i in (0, 1, 3, 4)] == [0, 1, 0, 1]

    refused = api.post("/api/transforms/", {"model": model["id"], "input": SimpleUploadedFile("notes.txt", b"x")},
                       format="multipart")
    assert refused.status_code == 400 and ".zip" in refused.json()["error"]


def test_a_transform_resumes_after_the_last_whole_line(colour_artifact, tmp_path):
    from classifier.inference import Predictor
    from classifier.transform import transform, zip_items

    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for i in range(10):
            out.writestr(f"{i}.jpg", colour_jpeg(i % 3, seed=i))
    output = tmp_path / "out.jsonl"
    predictor = Predictor(colour_artifact)
    transform(predictor, zip_items(archive), output, batch_size=4)
    complete = output.read_text().splitlines()
    # A worker killed mid-line: four whole lines and a torn fifth.
    partial = output.with_name("out.jsonl.partial")
    partial.write_text("\n".join(complete[:4]) + "\n" + complete[4][:15])
    output.unlink()
    seen = []
    lines, failed = transform(predictor, zip_items(archive), output, batch_size=4,
                              on_progress=lambda done, _: seen.append(done))
    assert (lines, failed) == (10, 0) and seen[0] == 8
    assert [json.loads(line)["file"] for line in output.read_text().splitlines()] == [f"{i}.jpg" for i in range(10)]


def test_a_transform_whose_worker_died_is_requeued_and_continues_after_its_last_line(
        api, alice, worker, colour_artifact, media):
    from datetime import timedelta

    from django.utils import timezone

    from webapp.registry.models import BatchTransform, RegisteredModel
    from webapp.registry.services import transforms_requeue_stale

    model = RegisteredModel.objects.get(id=import_model(api, colour_artifact, name="colour-squares")["id"])
    transform = BatchTransform.objects.create(
        owner=alice, model=model, kind="zip", input_name="photos.zip", directory="transforms/dead",
        state="running", worker="celery@lost-machine", heartbeat=timezone.now() - timedelta(hours=1), done=3, total=9)
    folder = Path(media) / transform.directory
    folder.mkdir(parents=True)
    (folder / "input.zip").write_bytes(zip_bytes({f"{i}.jpg": colour_jpeg(i % 3, seed=i) for i in range(9)}))
    # What the dead worker wrote: three whole lines (marked, to tell them apart) and a torn fourth.
    written = [json.dumps({"file": f"{i}.jpg", "prediction": [0.25, 0.25, 0.5], "mark": "before"}) for i in range(3)]
    (folder / "output.jsonl.partial").write_text("\n".join(written) + '\n{"file": "3.j')

    assert transforms_requeue_stale() == [transform.id]
    assert transforms_requeue_stale() == []  # once
    finished = wait_until(lambda: (t := api.get(f"/api/transforms/{transform.id}/").json())["state"] == "succeeded" and t)
    assert finished["done"] == finished["total"] == 9
    rows = [json.loads(line) for line in (folder / "output.jsonl").read_text().splitlines()]
    assert [row["file"] for row in rows] == [f"{i}.jpg" for i in range(9)]
    assert [row.get("mark") for row in rows] == ["before"] * 3 + [None] * 6
