"""Running loss and accuracy over batches, named as SageMaker names them (spec 0.6)."""
from __future__ import annotations

import numpy as np


def top_k_name(k: int) -> str:
    return f"top_k_accuracy_{k}"


def batch_counts(scores: np.ndarray, labels: np.ndarray, *, multi_label: bool, top_k: int | None) -> dict[str, float]:
    """Correct-answer counts of one batch. Multi-label accuracy is the mean over classes of the
    per-class accuracy at threshold 0.5 (spec 0.5), i.e. counted per (image, class) pair."""
    if multi_label:
        predicted = scores > 0.0  # logits: sigmoid(x) > 0.5 exactly when x > 0
        return {"accuracy": float((predicted == (labels > 0.5)).mean(axis=1).sum())}
    truth = labels.reshape(-1).astype(np.int64)
    counts = {"accuracy": float((scores.argmax(axis=1) == truth).sum())}
    if top_k:
        best = np.argpartition(-scores, min(top_k, scores.shape[1]) - 1, axis=1)[:, :top_k]
        counts[top_k_name(top_k)] = float((best == truth[:, None]).any(axis=1).sum())
    return counts


class Running:
    """Sums of per-sample values; ``means()`` gives the epoch's figures."""

    def __init__(self) -> None:
        self.samples = 0
        self.sums: dict[str, float] = {}

    def add(self, samples: int, loss_sum: float, counts: dict[str, float]) -> None:
        self.samples += samples
        self.sums["loss"] = self.sums.get("loss", 0.0) + loss_sum
        for name, value in counts.items():
            self.sums[name] = self.sums.get(name, 0.0) + value

    def means(self) -> dict[str, float]:
        return {name: total / max(self.samples, 1) for name, total in self.sums.items()}


def prefixed(phase: str, means: dict[str, float]) -> dict[str, float]:
    """``{"accuracy": x}`` -> ``{"train:accuracy": x}``."""
    return {f"{phase}:{name}": value for name, value in means.items()}
