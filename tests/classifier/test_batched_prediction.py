"""``python -m classifier serve``: a SageMaker client, unchanged, against one hosted model."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from classifier.inference import Predictor
from classifier.batched_prediction import MicroBatcher, ModelCache
from tests.support.network import free_port
from tests.support import REPO


def _serve(model, port):
    server = subprocess.Popen([sys.executable, "-m", "classifier", "serve", str(model), "--host", "127.0.0.1",
                               "--port", str(port)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError("classifier serve did not start")


@pytest.fixture(scope="module")
def served(digits_model):
    port = free_port()
    server = _serve(digits_model["artifact"], port)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=20)


def _runtime(url):
    import boto3

    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="anything", aws_secret_access_key="anything")


def _images(digits_tree, count=3):
    return [sorted((digits_tree / f"digit{d}").glob("*.jpg"))[0].read_bytes() for d in range(count)]


def test_boto3_invoke_endpoint_gets_the_library_s_probabilities(served, digits_model, digits_tree):
    import urllib.request

    assert urllib.request.urlopen(f"{served}/ping", timeout=2).status == 200
    images = _images(digits_tree)
    expected = Predictor(digits_model["artifact"]).predict(images)
    runtime = _runtime(served)
    for image, row in zip(images, expected):
        response = runtime.invoke_endpoint(EndpointName="digits", ContentType="application/x-image", Body=image)
        assert response["ContentType"] == "application/json"
        probabilities = json.loads(response["Body"].read())
        assert len(probabilities) == 10
        np.testing.assert_allclose(probabilities, row, rtol=1e-5, atol=1e-6)
    response = runtime.invoke_endpoint(EndpointName="digits", ContentType="image/jpeg", Body=images[1],
                                       Accept="application/jsonlines")
    line = response["Body"].read().decode()
    assert line.endswith("\n") and np.argmax(json.loads(line)["prediction"]) == 1


def test_bad_requests_get_4xx_with_a_json_message(served, digits_tree):
    import urllib.error
    import urllib.request

    image = _images(digits_tree, 1)[0]

    def post(path, body, content_type, accept=None):
        request = urllib.request.Request(f"{served}{path}", data=body, method="POST",
                                         headers={"Content-Type": content_type, **({"Accept": accept} if accept else {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post("/invocations", image, "image/jpeg")[0] == 200
    status, body = post("/invocations", image, "text/csv")
    assert status == 415 and "Content-Type" in body["error"]
    status, body = post("/invocations", b"hello, not an image", "image/png")
    assert status == 400 and "not a JPEG or PNG" in body["error"]
    status, body = post("/invocations", b"\xff\xd8\xff\xe0" + bytes(20), "image/jpeg")
    assert status == 400 and "corrupt" in body["error"]
    status, body = post("/invocations", image, "image/jpeg", accept="text/csv")
    assert status == 406
    status, body = post("/invocations", b"\xff\xd8\xff" + bytes(7 * 1024 * 1024), "image/jpeg")
    assert status == 413 and "at most" in body["error"]
    assert post("/elsewhere", image, "image/jpeg")[0] == 404


def test_concurrent_requests_share_batches_and_each_gets_its_own_answer(served, digits_tree):
    import urllib.request

    images = [sorted((digits_tree / f"digit{d}").glob("*.jpg"))[1].read_bytes() for d in range(10)] * 3

    def call(image):
        request = urllib.request.Request(f"{served}/invocations", data=image, method="POST",
                                         headers={"Content-Type": "image/jpeg"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(np.argmax(json.loads(response.read()))), int(response.headers["X-IC-Batch-Size"])

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, images))
    assert sum(label == position % 10 for position, (label, _) in enumerate(answers)) >= 27
    assert max(size for _, size in answers) > 1, "no two requests were answered by one forward pass"


def test_serves_the_directory_sagemaker_unpacks_the_model_into(digits_model, digits_tree, tmp_path):
    import urllib.request

    with tarfile.open(digits_model["artifact"]) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    port = free_port()
    server = _serve(tmp_path / "model", port)
    try:
        image = _images(digits_tree, 3)[2]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/endpoints/any/invocations", data=image,
                                         method="POST", headers={"Content-Type": "application/x-image"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert np.argmax(json.loads(response.read())) == 2
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_micro_batcher_runs_requests_arriving_together_as_one_batch(digits_model, digits_tree):
    batcher = MicroBatcher(Predictor(digits_model["artifact"]), window=0.05)
    futures = [batcher.submit(image) for image in _images(digits_tree, 8)]
    futures.append(batcher.submit(b"not an image"))
    answers = [future.result(30) for future in futures]
    assert [int(np.argmax(a.probabilities)) for a in answers[:8]] == list(range(8))
    assert max(a.batch_size for a in answers) >= 8
    assert answers[-1].probabilities is None and "not a JPEG or PNG" in answers[-1].error


def test_model_cache_keeps_models_warm_within_its_memory_budget(digits_model, tmp_path):
    copies = []
    for name in ("a", "b", "c"):
        copies.append(tmp_path / f"{name}.tar.gz")
        copies[-1].write_bytes(digits_model["artifact"].read_bytes())
    one = Predictor(digits_model["artifact"]).memory_bytes
    cache = ModelCache(budget_bytes=int(2.5 * one))
    first = cache.get(copies[0])
    assert cache.get(copies[0]) is first and cache.loads == 1
    cache.get(copies[1])
    cache.get(copies[0])  # a is now the most recently used
    cache.get(copies[2])  # over budget: b goes
    assert sorted(path.rsplit("/", 1)[1] for path in cache.keys) == ["a.tar.gz", "c.tar.gz"]
    assert cache.loads == 3
    cache.get(copies[1])
    assert cache.loads == 4


def test_transform_command_names_each_line_from_the_lst(digits_model, digits_records, tmp_path):
    from classifier.lst import read_lst
    from tests.support.cli import run_cli

    output = tmp_path / "val.jsonl"
    result = run_cli("transform", digits_model["artifact"], digits_records["validation"],
                     "--lst", digits_records["validation_lst"], "--output", output, "--no-progress")
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    entries = read_lst(digits_records["validation_lst"])
    assert [row["file"] for row in rows] == [entry.path for entry in entries]
    right = sum(int(np.argmax(row["prediction"])) == entry.label for row, entry in zip(rows, entries))
    assert right / len(rows) >= 0.97 and f"{len(rows)} lines written" in result.stderr
