"""Invocations cost what the model needs, and one user cannot hold up another's (issue 11, item 5). Today a
49-megapixel PNG of 143 KB was decoded whole, and the serving queue was one line for everyone: 16 clients
sending those made another user's 27 ms prediction take 12 s."""
from __future__ import annotations

import asyncio
import io
import shutil
import threading
import time
import uuid

import numpy as np
import PIL.Image
import pytest
import redis

from tests.hostile.webprocess import header, status
from tests.support.api import api_key
from tests.support.databases import TEST_REDIS
from tests.support.images import colour_jpeg
from webapp.registry.serving_queues import ENQUEUE, QUEUE, TURNS, WORKER_PREFIX, Request, queue_key, reply_key


@pytest.fixture
def serving_worker(settings, colour_artifact):
    """The real serving worker (a thread of this process), one small batch at a time, on the test Redis."""
    from workers.serving_worker import ServingWorker

    settings.REDIS_URL = TEST_REDIS
    worker = ServingWorker(TEST_REDIS, memory_bytes=256 << 20, max_batch=4, window=0.001)
    for key in worker.redis.scan_iter(match=QUEUE + "*"):
        worker.redis.delete(key)
    worker.redis.delete(TURNS)
    worker.cache.get(colour_artifact)  # warm: the first batch is not the model's load
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not worker.redis.exists(WORKER_PREFIX + worker.name) and time.monotonic() < deadline:
        time.sleep(0.05)  # its first heartbeat: serving_worker_client sends nothing before a worker is seen
    yield worker
    worker.stop()
    thread.join(timeout=10)


def test_one_users_backlog_does_not_hold_up_anothers_request(serving_worker, colour_artifact):
    from webapp.registry import serving_worker_client

    client = redis.Redis.from_url(TEST_REDIS)
    backlog = [Request(id=uuid.uuid4().hex, artifact=str(colour_artifact), deadline=time.time() + 60,
                       image=colour_jpeg(0, seed=i), owner="mallory") for i in range(200)]
    pipe = client.pipeline(transaction=False)
    for request in backlog:  # what serving_worker_client.predict sends, 200 times over in one go
        pipe.eval(ENQUEUE, 2, queue_key("mallory"), TURNS, request.encode(), "mallory")
    pipe.execute()

    reply = asyncio.run(serving_worker_client.predict(str(colour_artifact), colour_jpeg(2), owner="alice", timeout=30))
    pipe = client.pipeline(transaction=False)
    for request in backlog:
        pipe.exists(reply_key(request.id))
    answered_first = sum(pipe.execute())
    waiting = client.llen(queue_key("mallory"))
    assert reply.error is None and int(np.argmax(reply.probabilities)) == 2
    # Alice took her turn after at most a batch or two of Mallory's, not after all 200.
    assert answered_first <= 40 and waiting >= 100, (answered_first, waiting)
    for request in backlog:  # and Mallory's backlog is still answered, every one
        assert client.blpop([reply_key(request.id)], timeout=30) is not None


def test_an_invocation_over_the_pixel_cap_is_refused_from_its_header(web, colour_artifact):
    from django.contrib.auth.models import User

    from webapp.registry.models import RegisteredModel

    shutil.copy(colour_artifact, web.media / "colours.tar.gz")
    RegisteredModel.objects.create(owner=User.objects.get(username="alice"), name="colours", source="trained",
                         artifact="colours.tar.gz", num_classes=3, image_shape=[3, 32, 32], is_default=True)
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (7000, 7000)).save(buffer, "PNG")  # 49 megapixels in a few hundred kilobytes
    image = buffer.getvalue()
    token = api_key(User.objects.get(username="alice"))
    answer = web.raw((f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                      f"Content-Length: {len(image)}\r\nAuthorization: Token {token}\r\n\r\n").encode(),
                     [image])
    assert status(answer) == 413 and header(answer, "x-amzn-ErrorType") == "ValidationError", answer[:400]
    assert b"7000x7000 pixels" in answer and b"16,777,216" in answer
    assert web.peak_rss_mb() < 400


def test_a_large_jpeg_is_decoded_at_reduced_scale_to_the_same_answer(colour_artifact):
    from classifier.inference import Predictor

    predictor = Predictor(colour_artifact)
    small = PIL.Image.open(io.BytesIO(colour_jpeg(1, size=32))).convert("RGB")
    buffer = io.BytesIO()
    small.resize((3200, 2400), PIL.Image.NEAREST).save(buffer, "JPEG", quality=95)
    big = buffer.getvalue()
    assert predictor._reduced(big).shape == (300, 400, 3)  # 1/8 scale: still above the 32x32 input
    assert int(np.argmax(predictor.predict_one(big))) == 1
