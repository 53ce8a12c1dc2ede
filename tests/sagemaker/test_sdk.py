"""The SageMaker Python SDK v2 (``sagemaker<3``) against IC Studio: ``Estimator(...).fit(inputs, logs=True)``
prints the job's epochs as it trains and ends Completed. Only the environment is set: keys, region, endpoint."""
from __future__ import annotations

import pytest

from tests.support.sagemaker_data import IMAGE_URI, ROLE, TINY, seed_bucket, upload, user_s3, write_rec

pytestmark = pytest.mark.django_db(transaction=True)


def test_estimator_fit_prints_the_epochs_and_completes(as_user, alice, worker, tmp_path, capsys):
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.session import Session

    as_user(alice)
    bucket = "alice-sdk"
    bucket = seed_bucket(alice, bucket)
    s3 = user_s3()
    upload(s3, bucket, "sdk/train/train.rec", write_rec(tmp_path / "train.rec", 48, seed=1))
    upload(s3, bucket, "sdk/validation/val.rec", write_rec(tmp_path / "val.rec", 24, seed=2))

    session = Session()
    assert image_uris.retrieve("image-classification", session.boto_region_name) == IMAGE_URI
    estimator = Estimator(image_uri=IMAGE_URI, role=ROLE, instance_count=1, instance_type="ml.p2.xlarge",
                          output_path=f"s3://{bucket}/sdk/output", sagemaker_session=session)
    estimator.set_hyperparameters(**{**TINY, "num_training_samples": 48})
    estimator.fit({"train": TrainingInput(f"s3://{bucket}/sdk/train/", content_type="application/x-recordio"),
                   "validation": f"s3://{bucket}/sdk/validation/"}, logs=True)

    printed = capsys.readouterr().out
    assert "Epoch[1] Validation-accuracy=" in printed, printed
    description = estimator.latest_training_job.describe()
    assert description["TrainingJobStatus"] == "Completed"
    assert estimator.model_data.endswith(f"/{estimator.latest_training_job.name}/output/model.tar.gz")
