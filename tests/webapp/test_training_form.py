"""Click-to-train: the form starts from settings fitted to the version and the machine, and a job that
cannot run is refused at submit, beside its field and in the JSON API, never queued to fail."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.support.api import colour_version, photo_version
from tests.support.databases import TEST_REDIS
from webapp.training.models import TrainingJob
from webapp.training.presets import VersionShape, presets_for

pytestmark = pytest.mark.django_db(transaction=True)


NEWCOMER = VersionShape(train=160, validation=40, classes=4, shortest_side=96, typical_side=96, all_square_of=96,
                        smallest=(96, 96))


def test_presets_on_a_cpu_train_96px_images_as_they_are():
    quick, balanced, best = presets_for(NEWCOMER, "cpu")
    assert [p.name for p in (quick, balanced, best)] == ["quick", "balanced", "best"]
    assert balanced.hyperparameters == {
        "num_layers": "20", "image_shape": "3,96,96", "epochs": "15", "mini_batch_size": "16", "optimizer": "sgd",
        "momentum": "0.9", "weight_decay": "0.0001", "learning_rate": "0.05", "lr_scheduler_step": "10",
        "lr_scheduler_factor": "0.1", "augmentation_type": "crop"}
    assert quick.hyperparameters["image_shape"] == "3,64,64" and quick.hyperparameters["resize"] == "64"
    assert best.hyperparameters["early_stopping"] == "True"
    assert quick.seconds < balanced.seconds < best.seconds < 600
    assert balanced.summary == "ResNet-20 · 96×96 input · 15 epochs · batch 16"


def test_presets_follow_the_images_the_set_size_and_the_device():
    mixed = VersionShape(train=40, validation=10, classes=2, shortest_side=300, typical_side=480, all_square_of=None,
                         smallest=(300, 400))
    balanced = presets_for(mixed, "cpu")[1].hyperparameters
    assert balanced["image_shape"] == "3,96,96" and balanced["resize"] == "96"  # any size fits once scaled
    assert int(balanced["mini_batch_size"]) <= 40
    tiny = VersionShape(train=6, validation=2, classes=2, shortest_side=32, typical_side=32, all_square_of=32)
    assert all(int(p.hyperparameters["mini_batch_size"]) <= 6 for p in presets_for(tiny, "cpu"))
    assert presets_for(tiny, "cpu")[1].hyperparameters["image_shape"] == "3,32,32"
    # A large set on a CPU: fewer epochs, so the balanced preset still ends in about ten minutes.
    large = VersionShape(train=40000, validation=10000, classes=10, shortest_side=96, typical_side=96, all_square_of=96)
    cpu = presets_for(large, "cpu")[1]
    assert int(cpu.hyperparameters["epochs"]) < 15 and cpu.seconds < 900
    gpu = presets_for(VersionShape(train=5000, validation=1000, classes=10, shortest_side=256, typical_side=256,
                                   all_square_of=None), "gpu")[1].hyperparameters
    assert gpu["image_shape"] == "3,160,160" and gpu["num_layers"] == "34" and int(gpu["mini_batch_size"]) > 32


def test_the_form_starts_from_the_fitted_preset_and_groups_the_rest(api, alice, worker, settings):
    settings.REDIS_URL = TEST_REDIS  # where the worker says it is alive, and on what
    version = photo_version(api)
    browser = Client()
    browser.force_login(alice)
    page = browser.get(f"/versions/{version}/train/")
    form = page.context["form"]
    assert form["num_layers"].value() == "20" and form["image_shape"].value() == "3,96,96"
    assert form["preset"].value() == "balanced" and not form["resize"].value()
    assert [key for key, _, _ in form.groups()] == ["network", "optimiser", "schedule", "augmentation", "stopping",
                                                    "checkpoints", "other"]
    html = page.content.decode()
    assert '<details id="advanced">' in html  # one click away, closed
    assert "a smaller one is enlarged" in html and "a larger one is cropped" in html  # resize, for every input
    assert 'id="base-choice" hidden' in html  # the model chooser only in incremental mode
    assert "Training runs on 1 worker, on the CPU" in html

    # The API keeps SageMaker's defaults: ResNet-152 at 3,224,224, refused here for these 96 px images.
    refused = api.post("/api/jobs/", {"version": version, "hyperparameters": {}}, format="json")
    assert refused.status_code == 400
    assert "less than 224x224" in refused.json()["fields"]["image_shape"][0]


def test_a_job_that_cannot_run_is_refused_with_the_reason_beside_its_field(api, alice, worker):
    version = colour_version(api, classes=("red", "green", "blue"), per_class=20)  # 45 training images, 32x32
    small = {"num_layers": "20", "image_shape": "3,32,32", "epochs": "1", "mini_batch_size": "8"}

    def refused(hyperparameters, mode="full"):
        response = api.post("/api/jobs/", {"version": version, "mode": mode, "hyperparameters": hyperparameters},
                            format="json")
        assert response.status_code == 400, response.json()
        return {name: messages[0] for name, messages in response.json()["fields"].items()}

    too_small = refused({**small, "image_shape": "3,64,64"})
    assert too_small["image_shape"].startswith("the smallest images of version 1 are 32 px wide and 32 px high")
    assert "set resize" in too_small["image_shape"]
    assert refused({**small, "mini_batch_size": "5000"})["mini_batch_size"] == (
        "must be at most the 45 training images of version 1, not 5000")
    assert "no ImageNet weights for ResNet-18" in refused(
        {**small, "num_layers": "18", "image_shape": "3,224,224", "resize": "224"}, mode="transfer")["num_layers"]
    both = refused({**small, "image_shape": "3,64,64", "mini_batch_size": "5000", "learning_rate": "3"})
    assert set(both) == {"image_shape", "mini_batch_size", "learning_rate"}  # every problem at once
    assert not TrainingJob.objects.exists()  # nothing was queued to fail

    # Scaled up by resize, the same images train.
    accepted = api.post("/api/jobs/", {"version": version, "hyperparameters": {
        **small, "image_shape": "3,40,40", "resize": "40"}}, format="json")
    assert accepted.status_code == 201, accepted.json()

    # The page puts each reason beside its field and opens "advanced" to show it.
    browser = Client()
    browser.force_login(alice)
    page = browser.post(f"/versions/{version}/train/", {
        "preset": "", "fields_from": "", "mode": "full", **small, "mini_batch_size": "5000",
        "optimizer": "sgd", "early_stopping": "False", "multi_label": "0", "use_weighted_loss": "0",
        "precision_dtype": "float32"})
    assert page.status_code == 200
    html = page.content.decode()
    assert '<details id="advanced" open>' in html
    assert 'data-error-for="mini_batch_size">must be at most the 45 training images' in html
    assert TrainingJob.objects.count() == 1


def test_a_version_without_validation_images_is_refused(api, alice, worker):
    from webapp.datasets.models import DatasetVersion

    version = DatasetVersion.objects.get(id=colour_version(api, per_class=8))
    # As a version frozen before freezing held out a validation split: every image in train.
    DatasetVersion.objects.filter(id=version.id).update(counts={"images": {"train": 16, "val": 0}})
    response = api.post("/api/jobs/", {"version": version.id, "hyperparameters": {
        "num_layers": "20", "image_shape": "3,32,32", "mini_batch_size": "8"}}, format="json")
    assert response.status_code == 400
    assert "has no validation images" in response.json()["fields"]["version"][0]
    browser = Client()
    browser.force_login(alice)
    page = browser.post(f"/versions/{version.id}/train/", {"preset": "balanced", "fields_from": "balanced",
                                                           "mode": "full"})
    assert "has no validation images" in page.content.decode() and not TrainingJob.objects.exists()


def test_a_preset_chosen_without_the_page_script_still_applies(api, alice, worker):
    """The radio alone (script off): the chosen preset's values, plus whatever field was changed by hand."""
    version = photo_version(api, per_class=5)
    browser = Client()
    browser.force_login(alice)
    form = browser.get(f"/versions/{version}/train/").context["form"]
    posted = {name: form[name].value() or "" for name in form.fields if name not in ("base_model", "base_upload")}
    response = browser.post(f"/versions/{version}/train/", {**posted, "preset": "quick", "weight_decay": "0.0005"})
    assert response.status_code == 302, response.context["form"].errors
    job = TrainingJob.objects.get()
    assert job.hyperparameters["image_shape"] == "3,64,64" and job.hyperparameters["resize"] == "64"
    assert job.hyperparameters["weight_decay"] == "0.0005"
    assert api.post(f"/api/jobs/{job.id}/cancel/").status_code == 200
