"""The command line's shape: help, sub-commands, one-line errors."""
from __future__ import annotations

import json

from tests.support.cli import run_cli


def test_help_lists_every_command():
    result = run_cli("--help")
    for command in ("pack", "train", "predict", "serve", "transform", "fetch-pretrained"):
        assert command in result.stdout
    assert "--hyperparameters" in run_cli("train", "--help").stdout


def test_invalid_hyperparameters_give_one_line_listing_every_problem(tmp_path):
    (tmp_path / "hp.json").write_text(json.dumps({"num_classes": "0", "optimizer": "lbfgs"}))
    (tmp_path / "t.rec").write_bytes(b"")
    result = run_cli("train", "--train", tmp_path / "t.rec", "--validation", tmp_path / "t.rec", "--model-dir",
                     tmp_path / "out", "--hyperparameters", tmp_path / "hp.json", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    for name in ("num_classes", "num_training_samples", "optimizer"):
        assert name in result.stderr


def test_fetch_pretrained_without_network_is_a_clear_error(tmp_path):
    result = run_cli("fetch-pretrained", tmp_path, "--base-url", "http://127.0.0.1:9", check=False)
    assert result.returncode == 2
    assert "cannot download http://127.0.0.1:9/18-layers/resnet-18-symbol.json" in result.stderr
    assert not list(tmp_path.iterdir())  # no partial file left behind
