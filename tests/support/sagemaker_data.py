"""Small real data for the SageMaker tests, as SageMaker's users bring it: .rec files, image folders with
.lst files, Ground Truth manifests; and the one place the data reaches the store."""
from __future__ import annotations

import json
from pathlib import Path

from classifier import recordio
from tests.support.images import colour_jpeg

IMAGE_URI = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
ROLE = "arn:aws:iam::000000000000:role/service-role/AmazonSageMaker-ExecutionRole"
TINY = {"num_layers": "20", "image_shape": "3,32,32", "num_classes": "3", "epochs": "2", "mini_batch_size": "16",
        "learning_rate": "0.05", "optimizer": "sgd"}


def write_rec(path: Path, count: int, *, seed: int = 0, label_width: int = 1) -> Path:
    """``count`` colour images of 3 classes; ``label_width`` 3: one-hot labels (a multi-label packing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with recordio.RecordWriter(path) as writer:
        for index in range(count):
            label = index % 3
            value = float(label) if label_width == 1 else [1.0 if c == label else 0.0 for c in range(label_width)]
            writer.write(recordio.pack_record(recordio.IRHeader(0, value, index, 0),
                                              colour_jpeg(label, seed=seed * 1000 + index)))
    return path


def write_image_folder(root: Path, count: int, *, seed: int = 0) -> str:
    """Images under ``root/<class>/`` and the text of their .lst (paths relative to ``root``)."""
    rows = []
    for index in range(count):
        label = index % 3
        relative = f"{label}/img{seed}-{index}.jpg"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(colour_jpeg(label, seed=seed * 1000 + index))
        rows.append(f"{index}\t{label}\t{relative}\n")
    return "".join(rows)


def ground_truth_lines(bucket: str, prefix: str, count: int, *, multi: bool = False) -> tuple[dict[str, bytes], str]:
    """Images to upload and Ground Truth's output manifest for them (its own metadata included)."""
    objects, lines = {}, []
    for index in range(count):
        label = index % 3
        key = f"{prefix}/images/{index}.jpg"
        objects[key] = colour_jpeg(label, seed=7000 + index)
        if multi:
            row = {"source-ref": f"s3://{bucket}/{key}", "category": [label],
                   "category-metadata": {"job-name": "labeling-job/colours", "class-map": {"0": "red", "1": "green",
                                         "2": "blue"}, "human-annotated": "yes", "type": "groundtruth/image-classification-multilabel",
                                         "confidence-map": {str(label): 0.95}, "creation-date": "2024-01-01T00:00:00"}}
        else:
            row = {"source-ref": f"s3://{bucket}/{key}", "category": label,
                   "category-metadata": {"confidence": 0.95, "job-name": "labeling-job/colours", "class-name": "red",
                                         "human-annotated": "yes", "creation-date": "2024-01-01T00:00:00",
                                         "type": "groundtruth/image-classification"}}
        lines.append(json.dumps(row))
    return objects, "\n".join(lines) + "\n"


def seed_bucket(user, bucket: str) -> str:
    """A bucket of the user's named ``bucket-<random>`` (the session's store outlives each test's database), made
    as a notebook makes it: ``create_bucket`` through IC Studio's S3 front with the user's keys (``user`` must
    be the one the environment is configured for). Its name."""
    import secrets

    import boto3

    bucket = f"{bucket}-{secrets.token_hex(4)}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


def upload(s3, bucket: str, key: str, path_or_bytes) -> None:
    """The notebook's upload step, with the user's boto3 ``s3`` client (user_s3)."""
    if isinstance(path_or_bytes, (bytes, str)) and not isinstance(path_or_bytes, Path):
        body = path_or_bytes.encode() if isinstance(path_or_bytes, str) else path_or_bytes
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    else:
        s3.upload_file(str(path_or_bytes), bucket, key)


def user_s3():
    """The client the notebook's uploads go through: the user's ``boto3.client("s3")`` against IC Studio,
    configured by the environment alone."""
    import boto3

    return boto3.client("s3")


def training_params(job_name: str, bucket: str, *, hyperparameters: dict | None = None, channels=None) -> dict:
    """The request Image-classification-fulltraining.ipynb sends, on tiny data."""
    return {
        "AlgorithmSpecification": {"TrainingImage": IMAGE_URI, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/ic-fulltraining/output"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p2.xlarge", "VolumeSizeInGB": 50},
        "TrainingJobName": job_name,
        "HyperParameters": {**TINY, "num_training_samples": "48", **(hyperparameters or {})},
        "StoppingCondition": {"MaxRuntimeInSeconds": 360000},
        "InputDataConfig": channels or [
            {"ChannelName": name, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/ic-fulltraining/{name}/",
                "S3DataDistributionType": "FullyReplicated"}},
             "ContentType": "application/x-recordio", "CompressionType": "None"}
            for name in ("train", "validation")],
    }
