"""Issue 4's acceptance: the digits case of the library holds through the web app — uploaded over the
API, split, frozen, built by a worker, trained by a worker — at least 97% validation accuracy."""
from __future__ import annotations

import io
import zipfile

import pytest

from tests.classifier.digits import DIGITS_HYPERPARAMETERS, write_digits_tree
from tests.support.api import upload
from tests.support.waiting import wait_until
from webapp.datasets.models import DatasetVersion
from webapp.training.models import TrainingJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_digits_reach_97_percent_through_the_web_app(api, worker, tmp_path):
    tree = write_digits_tree(tmp_path / "digits")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        for image in sorted(tree.rglob("*.jpg")):
            out.write(image, image.relative_to(tree).as_posix())
    dataset = api.post("/api/datasets/", {"name": "digits"}, format="json").json()["id"]
    report = upload(api, dataset, {"digits.zip": archive.getvalue()}).json()
    assert report["accepted"] + len(report["duplicates"]) == 1797 and not report["rejected"]
    api.post(f"/api/datasets/{dataset}/split/", {"train_ratio": 0.8, "seed": 0}, format="json")
    version = api.post(f"/api/datasets/{dataset}/versions/").json()["id"]
    wait_until(lambda: DatasetVersion.objects.get(id=version).status == "ready")

    hyperparameters = {k: v for k, v in DIGITS_HYPERPARAMETERS.items() if k not in ("num_classes", "num_training_samples")}
    job = api.post("/api/jobs/", {"version": version, "hyperparameters": hyperparameters}, format="json").json()
    finished = wait_until(lambda: (j := TrainingJob.objects.get(id=job["id"])).finished_state and j, timeout=600, step=1)
    assert finished.state == "succeeded", finished.reason
    assert finished.metrics["validation:accuracy"] >= 0.97, finished.metrics
    evaluation = api.get(f"/api/jobs/{job['id']}/evaluation/").json()
    assert evaluation["accuracy"] >= 0.97
