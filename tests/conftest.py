"""Fixtures that tests in several folders use (tests/webapp, tests/hostile): the Celery app on the test Redis, a
real Celery worker, and the colour model trained once per session. pytest finds them here without an import."""
from __future__ import annotations

import pytest

from tests.support.databases import TEST_REDIS
from tests.support.images import COLOUR_CLASSES


@pytest.fixture(autouse=True)
def _one_redis(settings):
    """This process on the test Redis, as the web servers the tests start are: a change to keys, users or
    buckets made here must reach what they remember (webapp/core/access_generation.py)."""
    settings.REDIS_URL = TEST_REDIS


# The two users of the web-app and SageMaker tests: alice owns things, bob tries to reach them.
@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="wonderland-42")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="builder-4242")


@pytest.fixture
def broker():
    """The Celery app on the test Redis, emptied, with no worker yet (a queued message stays queued)."""
    from workers.celery import app

    app.conf.update(broker_url=TEST_REDIS, result_backend=TEST_REDIS)
    with app.pool.acquire(block=True) as connection:
        connection.default_channel.client.flushdb()
    return app


@pytest.fixture
def worker(broker, transactional_db, settings):
    """A real Celery worker (a thread of this process) on a real Redis, consuming the cpu and gpu queues."""
    from celery.contrib.testing.worker import start_worker, test_worker_started
    from celery.signals import worker_ready

    from workers import presence

    def ready(sender, worker, consumer, **_):  # what `celery worker` sends and the test harness does not
        worker_ready.send(sender=consumer)

    app = broker
    test_worker_started.connect(ready, weak=False)
    try:
        with start_worker(app, queues=["cpu", "gpu"], perform_ping_check=False, pool="solo", shutdown_timeout=30):
            yield app
    finally:
        test_worker_started.disconnect(ready)
        presence.stop()


@pytest.fixture(scope="session")
def colour_artifact(tmp_path_factory):
    """A ResNet-20 telling red, green and blue squares apart, trained once by the library."""
    from classifier.hyperparameters import parse_hyperparameters
    from classifier.training import train
    from tests.classifier.synthetic import write_colours

    root = tmp_path_factory.mktemp("colour-model")
    hp = parse_hyperparameters({"num_classes": "3", "num_training_samples": "96", "num_layers": "20",
                                "image_shape": "3,32,32", "epochs": "4", "mini_batch_size": "16",
                                "learning_rate": "0.05"})
    result = train(hp, train_rec=write_colours(root / "train.rec", 96, seed=1),
                   validation_rec=write_colours(root / "val.rec", 48, seed=2), model_dir=root / "model",
                   class_names=COLOUR_CLASSES)
    assert result.metrics["validation:accuracy"] >= 0.9, result.metrics
    return result.artifact


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory):
    """A real S3 store (SeaweedFS, started as the launcher starts its own) for the session: an EmbeddedStore,
    whose ``.store`` is what webapp.core.object_store takes and ``.endpoint_url``/keys what boto3 does."""
    from tests.support.s3 import seaweedfs

    with seaweedfs(tmp_path_factory.mktemp("s3")) as store:
        yield store
