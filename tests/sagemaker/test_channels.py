"""The other ways SageMaker's image-classification takes data: image channels with .lst files (the notebook's
-lst-format variant), incremental training through the ``model`` channel, and Ground Truth's augmented manifests."""
from __future__ import annotations

import boto3
import pytest

from tests.support.sagemaker_data import ground_truth_lines, seed_bucket, training_params, upload, user_s3, \
    write_image_folder

pytestmark = pytest.mark.django_db(transaction=True)


def _trained(client, name):
    from botocore.exceptions import WaiterError

    try:
        client.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 240})
    except WaiterError:
        pass
    info = client.describe_training_job(TrainingJobName=name)
    assert info["TrainingJobStatus"] == "Completed", info.get("FailureReason")
    return info


def _channel(name, uri, content_type, **source):
    return {"ChannelName": name, "ContentType": content_type, "InputMode": "File", "CompressionType": "None",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                            "S3DataDistributionType": "FullyReplicated", **source}}}


def test_lst_format_four_image_channels(as_user, alice, worker, tmp_path):
    as_user(alice)
    bucket = "alice-lst"
    bucket = seed_bucket(alice, bucket)
    s3 = user_s3()
    for name, count, seed in (("train", 48, 1), ("validation", 24, 2)):
        root = tmp_path / name
        listing = write_image_folder(root, count, seed=seed)
        for image in root.rglob("*.jpg"):
            upload(s3, bucket, f"lst/{name}/{image.relative_to(root).as_posix()}", image)
        upload(s3, bucket, f"lst/{name}_lst/{name}.lst", listing)
    channels = [_channel(name, f"s3://{bucket}/lst/{name}/", "application/x-image")
                for name in ("train", "validation", "train_lst", "validation_lst")]
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_training_job(**training_params("lst-format", bucket, channels=channels,
                                                    hyperparameters={"resize": "32"}))
    _trained(sagemaker, "lst-format")
    # Image mode needs resize, as SageMaker's algorithm says.
    with pytest.raises(sagemaker.exceptions.ClientError, match="resize: is required"):
        sagemaker.create_training_job(**training_params("lst-no-resize", bucket, channels=channels))


def test_incremental_training_through_the_model_channel(as_user, alice, worker, tmp_path, colour_artifact):
    from tests.support.sagemaker_data import write_rec

    as_user(alice)
    bucket = "alice-incremental"
    bucket = seed_bucket(alice, bucket)
    s3 = user_s3()
    upload(s3, bucket, "inc/train/train.rec", write_rec(tmp_path / "train.rec", 48, seed=1))
    upload(s3, bucket, "inc/validation/val.rec", write_rec(tmp_path / "val.rec", 24, seed=2))
    upload(s3, bucket, "inc/model/model.tar.gz", colour_artifact)
    channels = [_channel(name, f"s3://{bucket}/inc/{name}/", "application/x-recordio")
                for name in ("train", "validation")]
    channels.append(_channel("model", f"s3://{bucket}/inc/model/", "application/x-sagemaker-model"))
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_training_job(**training_params("incremental", bucket, channels=channels))
    info = _trained(sagemaker, "incremental")
    # It starts from a trained model: the first epoch already tells the colours apart.
    assert {m["MetricName"]: m["Value"] for m in info["FinalMetricDataList"]}["validation:accuracy"] >= 0.9

    from webapp.training.models import TrainingJob

    assert TrainingJob.objects.get(name="incremental").mode == TrainingJob.Mode.INCREMENTAL


@pytest.mark.parametrize("multi", [False, True], ids=["single-label", "multi-label"])
def test_ground_truth_augmented_manifest(as_user, alice, worker, multi):
    as_user(alice)
    bucket = "alice-groundtruth"
    bucket = seed_bucket(alice, bucket)
    s3 = user_s3()
    channels = []
    for name, count in (("train", 48), ("validation", 24)):
        objects, manifest = ground_truth_lines(bucket, f"gt/{name}", count, multi=multi)
        for key, body in objects.items():
            upload(s3, bucket, key, body)
        upload(s3, bucket, f"gt/{name}/output.manifest", manifest)
        channel = _channel(name, f"s3://{bucket}/gt/{name}/output.manifest", "application/x-recordio",
                           AttributeNames=["source-ref", "category"])
        channel["DataSource"]["S3DataSource"]["S3DataType"] = "AugmentedManifestFile"
        channel.update(InputMode="Pipe", RecordWrapperType="RecordIO")
        channels.append(channel)
    sagemaker = boto3.client("sagemaker")
    hyperparameters = {"multi_label": "1"} if multi else {}
    sagemaker.create_training_job(**training_params("ground-truth", bucket, channels=channels,
                                                    hyperparameters=hyperparameters))
    _trained(sagemaker, "ground-truth")
