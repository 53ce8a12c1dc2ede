"""The SageMaker Python SDK v2 (``sagemaker<3``) tuning and hosting against IC Studio, as its high-level
notebooks use it: ``HyperparameterTuner(...).fit(...)`` (Hyperband, whose MaxResource cuts each trial's epochs;
the notebook's own Bayesian tuning is tests/sagemaker/test_notebook_hosting.py), ``tuner.deploy(...)``,
``predictor.predict(jpeg)``, ``predictor.delete_endpoint()``, ``predictor.delete_model()``. Only the environment
is set."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.images import colour_jpeg
from tests.support.sagemaker_data import IMAGE_URI, ROLE, TINY, seed_bucket, upload, user_s3, write_rec

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sdk_tunes_deploys_predicts_and_deletes(as_user, alice, worker, serving_worker, tmp_path):
    import boto3
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import IdentitySerializer
    from sagemaker.session import Session
    from sagemaker.tuner import ContinuousParameter, HyperbandStrategyConfig, HyperparameterTuner, StrategyConfig

    from classifier.inference import Predictor as LibraryPredictor

    as_user(alice)
    bucket = seed_bucket(alice, "alice-sdk-tuning")
    s3 = user_s3()
    upload(s3, bucket, "sdk/train/train.rec", write_rec(tmp_path / "train.rec", 48, seed=1))
    upload(s3, bucket, "sdk/validation/val.rec", write_rec(tmp_path / "val.rec", 24, seed=2))

    session = Session()
    estimator = Estimator(image_uri=IMAGE_URI, role=ROLE, instance_count=1, instance_type="ml.p2.xlarge",
                          output_path=f"s3://{bucket}/sdk/output", sagemaker_session=session)
    estimator.set_hyperparameters(**{**{k: v for k, v in TINY.items() if k != "learning_rate"},
                                     "num_training_samples": 48})
    tuner = HyperparameterTuner(estimator, objective_metric_name="validation:accuracy",
                                hyperparameter_ranges={"learning_rate": ContinuousParameter(0.01, 0.1)},
                                objective_type="Maximize", max_jobs=2, max_parallel_jobs=1, strategy="Hyperband",
                                strategy_config=StrategyConfig(hyperband_strategy_config=HyperbandStrategyConfig(
                                    min_resource=1, max_resource=1)))
    tuner.fit({"train": TrainingInput(f"s3://{bucket}/sdk/train/", content_type="application/x-recordio"),
               "validation": TrainingInput(f"s3://{bucket}/sdk/validation/",
                                           content_type="application/x-recordio")},
              include_cls_metadata=False)
    tuner.wait()
    assert tuner.describe()["HyperParameterTuningJobStatus"] == "Completed"
    best = tuner.best_training_job()
    trials = {row["TrainingJobName"] for row in tuner.analytics().dataframe().to_dict("records")}
    assert best in trials and len(trials) == 2
    assert tuner.describe()["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 1}}
    from webapp.training.models import TrainingJob

    for name in trials:  # TINY's 2 epochs, cut to MaxResource: described and trained so
        assert boto3.client("sagemaker").describe_training_job(TrainingJobName=name)["HyperParameters"]["epochs"] == "1"
        assert TrainingJob.objects.get(name=name).hyperparameters["epochs"] == "1"

    predictor = tuner.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge",
                             serializer=IdentitySerializer(content_type="application/x-image"))
    jpeg = colour_jpeg(2, seed=77)
    probabilities = json.loads(predictor.predict(jpeg))
    model_data = boto3.client("sagemaker").describe_training_job(TrainingJobName=best)["ModelArtifacts"][
        "S3ModelArtifacts"]
    s3.download_file(bucket, model_data.split(f"{bucket}/", 1)[1], str(tmp_path / "best.tar.gz"))
    np.testing.assert_allclose(probabilities, LibraryPredictor(tmp_path / "best.tar.gz").predict([jpeg])[0],
                               rtol=1e-4, atol=1e-5)

    endpoint_name = predictor.endpoint_name
    predictor.delete_model()
    predictor.delete_endpoint()
    sagemaker = boto3.client("sagemaker")
    assert endpoint_name not in {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
