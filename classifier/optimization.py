"""SageMaker's optimizer and learning-rate hyperparameters as MXNet objects (spec 7.3 and 7.4)."""
from __future__ import annotations

import mxnet as mx

from classifier.hyperparameters import Hyperparameters, epoch_size


def lr_scheduler(hp: Hyperparameters, num_workers: int = 1) -> mx.lr_scheduler.LRScheduler | None:
    """MXNet's MultiFactorScheduler over updates: the rate is multiplied by the factor after each
    listed epoch. Counting updates from ``num_training_samples`` is why that value must be right."""
    if not hp.lr_scheduler_step:
        return None
    updates = epoch_size(hp, num_workers)
    return mx.lr_scheduler.MultiFactorScheduler(
        step=[updates * epoch for epoch in hp.lr_scheduler_step],
        factor=hp.lr_scheduler_factor,
        base_lr=hp.learning_rate,
    )


def make_optimizer(hp: Hyperparameters, *, num_workers: int = 1, multi_precision: bool = False) -> mx.optimizer.Optimizer:
    common = {
        "learning_rate": hp.learning_rate,
        "lr_scheduler": lr_scheduler(hp, num_workers),
        "multi_precision": multi_precision,
    }
    if hp.optimizer == "sgd":
        return mx.optimizer.SGD(momentum=hp.momentum, wd=hp.weight_decay, **common)
    if hp.optimizer == "nag":
        return mx.optimizer.NAG(momentum=hp.momentum, wd=hp.weight_decay, **common)
    # Weight decay is documented as unused by adam and rmsprop.
    if hp.optimizer == "adam":
        return mx.optimizer.Adam(beta1=hp.beta_1, beta2=hp.beta_2, epsilon=hp.eps, **common)
    if hp.optimizer == "rmsprop":
        return mx.optimizer.RMSProp(gamma1=hp.gamma, epsilon=hp.eps, **common)
    raise ValueError(f"unknown optimizer {hp.optimizer!r}")

