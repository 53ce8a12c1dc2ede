"""Shared data for the classifier tests: everything is made here, nothing is downloaded."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.classifier.digits import CLASS_NAMES, DIGITS_HYPERPARAMETERS, write_digits_tree
from tests.support.cli import run_cli


@pytest.fixture(scope="session")
def digits_tree(tmp_path_factory) -> Path:
    return write_digits_tree(tmp_path_factory.mktemp("digits") / "images")


@pytest.fixture(scope="session")
def digits_records(digits_tree, tmp_path_factory) -> dict[str, Path]:
    """The digits packed by our CLI as im2rec would: stratified 80/20 lists, then .rec/.idx."""
    prefix = tmp_path_factory.mktemp("digits-rec") / "digits"
    run_cli("pack", prefix, digits_tree, "--list", "--recursive", "--train-ratio", "0.8", "--seed", "0")
    run_cli("pack", prefix, digits_tree, "--num-thread", "2", "--no-progress")
    records = {
        "train": prefix.with_name("digits_train.rec"),
        "validation": prefix.with_name("digits_val.rec"),
        "train_lst": prefix.with_name("digits_train.lst"),
        "validation_lst": prefix.with_name("digits_val.lst"),
        "root": digits_tree,
    }
    assert all(path.exists() for path in records.values())
    return records


@pytest.fixture(scope="session")
def digits_model(digits_records, tmp_path_factory) -> dict:
    """The acceptance run: ResNet-20 from scratch on the digits, 10 epochs, through the CLI."""
    out = tmp_path_factory.mktemp("digits-model")
    hyperparameters = out / "hyperparameters.json"
    hyperparameters.write_text(json.dumps(DIGITS_HYPERPARAMETERS))
    class_names = out / "classes.json"
    class_names.write_text(json.dumps(CLASS_NAMES))
    result = run_cli(
        "train", "--train", digits_records["train"], "--validation", digits_records["validation"],
        "--model-dir", out / "model", "--hyperparameters", hyperparameters, "--class-names", class_names,
        "--no-progress",
    )
    return {
        "artifact": out / "model" / "model.tar.gz",
        "metrics": json.loads((out / "model" / "metrics.json").read_text()),
        "log": result.stderr,
        "dir": out,
    }
