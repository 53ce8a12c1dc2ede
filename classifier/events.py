"""What the training loop reports. Handlers are plain callables taking one event.

This is the contract with the workers, which forward events to the Channels layer; metric names
follow spec section 0.6 (``train:accuracy``, ``validation:accuracy``, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union
from collections.abc import Callable


@dataclass(frozen=True)
class BatchEnd:
    epoch: int  # 0-based, as MXNet logs it
    batch: int  # 0-based index within the epoch
    batches: int  # batches per epoch
    loss: float  # this batch's mean loss
    accuracy: float  # this batch's accuracy
    samples_per_sec: float
    lr: float


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0  # seconds since training (not this process) started
    eta: float = 0.0  # seconds left at the current pace


@dataclass(frozen=True)
class Checkpoint:
    epoch: int
    path: str


@dataclass(frozen=True)
class Log:
    line: str


Event = Union[BatchEnd, EpochEnd, Checkpoint, Log]
Handler = Callable[[Event], None]
