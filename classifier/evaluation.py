"""A trained model measured on a validation .rec: confusion matrix, per-class figures, and every
prediction with its confidence, read with the same centre crop as training's validation."""
from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mxnet as mx
import numpy as np

from classifier import data, recordio
from classifier.hyperparameters import parse_hyperparameters
from classifier.inference import Predictor


@dataclass
class Evaluation:
    class_names: list[str]
    accuracy: float
    top_k: int | None
    top_k_accuracy: float | None
    confusion: list[list[int]]  # [true][predicted]; single-label only
    per_class: list[dict] = field(default_factory=list)  # name, precision, recall, f1, support
    predictions: list[dict] = field(default_factory=list)  # key, labels, predicted, confidence, probabilities

    def as_dict(self) -> dict:
        return asdict(self)


def _per_class(names, truth: np.ndarray, predicted: np.ndarray) -> list[dict]:
    """Precision, recall and F1 from 0/1 matrices (images x classes)."""
    rows = []
    for c, name in enumerate(names):
        tp = float((truth[:, c] & predicted[:, c]).sum())
        precision = tp / max(predicted[:, c].sum(), 1)
        recall = tp / max(truth[:, c].sum(), 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"name": name, "precision": precision, "recall": recall, "f1": f1, "support": int(truth[:, c].sum())})
    return rows


def evaluate_artifact(artifact_path: Path, rec_path: Path, *, batch_size: int = 32) -> Evaluation:
    predictor = Predictor(artifact_path)
    hp = parse_hyperparameters(predictor.hyperparameters)
    with tempfile.TemporaryDirectory() as scratch:
        idx_path = data.index_path(rec_path, Path(scratch))
        keys = recordio.read_index(idx_path)
        order = sorted(keys, key=keys.get)  # the iterator reads the file front to back
        probabilities, labels = [], []
        for batch in data.record_iter(rec_path, idx_path, hp, batch_size=batch_size, train=False):
            scores = predictor.net(batch.data[0].as_in_context(predictor.context))
            scores = mx.nd.sigmoid(scores) if predictor.multi_label else mx.nd.softmax(scores)
            valid = batch.data[0].shape[0] - batch.pad
            probabilities.append(scores.asnumpy()[:valid])
            labels.append(batch.label[0].asnumpy()[:valid])
    probs = np.concatenate(probabilities) if probabilities else np.zeros((0, predictor.num_classes))
    truth_values = np.concatenate(labels) if labels else np.zeros((0,))
    names = predictor.class_names
    count = len(names)
    if predictor.multi_label:
        truth = truth_values.reshape(len(probs), count) > 0.5
        predicted = probs > 0.5
        accuracy = float((truth == predicted).mean()) if len(probs) else 0.0
        confusion: list[list[int]] = []
        rows = [{"key": int(k), "labels": np.flatnonzero(t).tolist(), "predicted": np.flatnonzero(p).tolist(),
                 "confidence": float(np.abs(q - 0.5).min() * 2) if len(q) else 0.0, "probabilities": q.round(5).tolist()}
                for k, t, p, q in zip(order, truth, predicted, probs)]
        top_k, top_k_accuracy = None, None
    else:
        truth_index = truth_values.reshape(-1).astype(int)
        predicted_index = probs.argmax(axis=1)
        matrix = np.zeros((count, count), int)
        np.add.at(matrix, (truth_index, predicted_index), 1)
        confusion = matrix.tolist()
        truth = np.eye(count, dtype=bool)[truth_index]
        predicted = np.eye(count, dtype=bool)[predicted_index]
        accuracy = float((truth_index == predicted_index).mean()) if len(probs) else 0.0
        top_k = hp.top_k
        top_k_accuracy = None
        if top_k:
            best = np.argsort(-probs, axis=1)[:, :top_k]
            top_k_accuracy = float((best == truth_index[:, None]).any(axis=1).mean())
        rows = [{"key": int(k), "labels": [int(t)], "predicted": [int(p)], "confidence": float(q[p]),
                 "probabilities": q.round(5).tolist()}
                for k, t, p, q in zip(order, truth_index, predicted_index, probs)]
    return Evaluation(names, accuracy, top_k, top_k_accuracy, confusion, _per_class(names, truth, predicted), rows)
