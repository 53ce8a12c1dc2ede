"""The acceptance case: real MXNet training on scikit-learn's digits, through the CLI."""
from __future__ import annotations

import json
import re
import tarfile

import pytest

from classifier import artifacts
from classifier.hyperparameters import parse_hyperparameters
from classifier.training import train
from tests.support.cli import run_cli
from tests.classifier.digits import CLASS_NAMES, DIGITS_HYPERPARAMETERS


def test_resnet20_reaches_97_percent_in_10_epochs(digits_model):
    metrics = digits_model["metrics"]
    assert metrics["validation:accuracy"] >= 0.97, metrics
    assert len(metrics["history"]) == 10
    assert metrics["train:accuracy"] > 0.9
    assert "validation:top_k_accuracy_2" in metrics


def test_log_lines_are_mxnet_module_fit_lines(digits_model):
    log = digits_model["log"]
    for line in ("Train-accuracy", "Validation-accuracy", "Train-top_k_accuracy_2"):
        assert re.search(rf"\] Epoch\[9\] {line}=\d\.\d{{6}}$", log, re.M), line
    assert re.search(r"\] Epoch\[0\] Time cost=\d+\.\d{3}$", log, re.M)
    assert re.search(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d INFO \d+\] ", log, re.M)
    assert "Storing the best model with validation accuracy" in log


def test_artifact_has_the_sagemaker_layout(digits_model):
    with tarfile.open(digits_model["artifact"]) as tar:
        names = set(tar.getnames())
    best = digits_model["metrics"]["best_epoch"]
    assert names == {
        "image-classification-symbol.json", f"image-classification-{best:04d}.params", "model-shapes.json",
        "class-names.json", "hyperparameters.json",
    }
    model = artifacts.read_artifact(digits_model["artifact"], digits_model["dir"] / "unpacked")
    assert model.class_names == CLASS_NAMES
    assert model.image_shape == (3, 32, 32)
    assert json.loads((model.directory / "model-shapes.json").read_text()) == [{"name": "data", "shape": [1, 3, 32, 32]}]
    assert parse_hyperparameters(model.hyperparameters) == parse_hyperparameters(DIGITS_HYPERPARAMETERS)
    assert artifacts.architecture_of(model) == {"num_layers": 20, "image_shape": (3, 32, 32), "num_classes": 10}


def test_incremental_training_does_not_lose_accuracy(digits_model, digits_records, tmp_path):
    before = digits_model["metrics"]["validation:accuracy"]
    hp = parse_hyperparameters({**DIGITS_HYPERPARAMETERS, "epochs": "2", "learning_rate": "0.001",
                                "lr_scheduler_step": "5"})
    result = train(hp, train_rec=digits_records["train"], validation_rec=digits_records["validation"],
                   model_dir=tmp_path, base_model=digits_model["artifact"], class_names=CLASS_NAMES)
    # The first epoch starts from the trained weights: a model starting from scratch is near chance here.
    assert result.history[0]["validation:accuracy"] >= before - 1 / 300
    assert result.metrics["validation:accuracy"] >= before - 1 / 300


def test_image_mode_trains_from_lst_and_folders(digits_records, tmp_path):
    hyperparameters = tmp_path / "hp.json"
    hyperparameters.write_text(json.dumps({**DIGITS_HYPERPARAMETERS, "epochs": "1", "resize": "32"}))
    run_cli(
        "train", "--train", digits_records["root"], "--train-lst", digits_records["train_lst"],
        "--validation", digits_records["root"], "--validation-lst", digits_records["validation_lst"],
        "--model-dir", tmp_path / "model", "--hyperparameters", hyperparameters, "--no-progress",
    )
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["validation:accuracy"] > 0.15  # one epoch from scratch; chance is 0.10


def test_image_mode_requires_resize(digits_records, tmp_path):
    hyperparameters = tmp_path / "hp.json"
    hyperparameters.write_text(json.dumps({**DIGITS_HYPERPARAMETERS, "epochs": "1"}))
    result = run_cli(
        "train", "--train", digits_records["root"], "--train-lst", digits_records["train_lst"],
        "--validation", digits_records["root"], "--validation-lst", digits_records["validation_lst"],
        "--model-dir", tmp_path / "model", "--hyperparameters", hyperparameters, check=False,
    )
    assert result.returncode == 2
    assert "resize" in result.stderr and "Traceback" not in result.stderr


def test_predict_cli_prints_one_json_line_per_image(digits_model, digits_tree, tmp_path):
    images = sorted((digits_tree / "digit3").glob("*.jpg"))[:3]
    result = run_cli("predict", digits_model["artifact"], *images)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(p) for p in images]
    for line in lines:
        assert len(line["prediction"]) == 10
        assert abs(sum(line["prediction"]) - 1) < 1e-4
    assert sum(max(range(10), key=line["prediction"].__getitem__) == 3 for line in lines) >= 2


def test_predict_cli_reports_a_non_image(digits_model, tmp_path):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not an image")
    result = run_cli("predict", digits_model["artifact"], bogus, check=False)
    assert result.returncode == 1
    assert "not a JPEG or PNG" in result.stderr and "Traceback" not in result.stderr


def test_evaluation_matches_the_validation_accuracy_of_the_kept_epoch(digits_model, digits_records):
    from classifier.evaluation import evaluate_artifact

    result = evaluate_artifact(digits_model["artifact"], digits_records["validation"])
    history = digits_model["metrics"]["history"]
    kept = history[digits_model["metrics"]["best_epoch"] - 1]["validation:accuracy"]
    assert result.accuracy == pytest.approx(kept, abs=1e-9)
    assert sum(map(sum, result.confusion)) == len(result.predictions) == len(digits_records["validation"].with_suffix(".idx").read_text().splitlines())
    assert [c["name"] for c in result.per_class] == CLASS_NAMES
    assert result.top_k == 2 and result.top_k_accuracy >= result.accuracy
    assert all(0 <= row["confidence"] <= 1 for row in result.predictions)
