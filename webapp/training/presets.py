"""Training settings fitted to a version and to the workers' devices: the training form's presets.

SageMaker's defaults (ResNet-152 at 3,224,224 for 30 epochs at learning rate 0.1) stay those of the API
and the CLI. They refuse images under 224 px and take hours on a CPU, so the form starts instead from a
preset that trains on the version's images at their own size and ends within minutes where it runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# Training images/s with mini_batch_size 16 on the 2-core CPU IC Studio is developed on, by depth and
# input side (benchmarks/training_speeds.py prints this table). Past jobs' speeds replace it.
CPU_SPEEDS = {
    20: {32: 174.1, 64: 444.8, 96: 192.5, 128: 90.5, 224: 28.9},
    32: {32: 95.6, 64: 223.1, 96: 125.0, 128: 70.9, 224: 19.0},
    56: {32: 64.4, 64: 191.4, 96: 72.2, 128: 44.0, 224: 14.2},
    18: {32: 13.0, 64: 31.2, 96: 16.1, 128: 12.2, 224: 4.4},
    34: {32: 5.9, 64: 14.2, 96: 8.4, 128: 5.7, 224: 2.2},
    50: {32: 5.4, 64: 14.0, 96: 8.3, 128: 4.8, 224: 1.8},
}
# A guess, not a measurement (no GPU was at hand to measure): a GPU's first job corrects it.
GPU_SPEEDUP = 15.0
STARTUP_SECONDS = 12.0  # the worker building the network, writing the model, evaluating it
VALIDATION_COST = 1 / 3  # a validation image is a forward pass; a training one also a backward pass


@dataclass(frozen=True)
class VersionShape:
    """What fitting needs of a version: its image counts and the size of its images."""

    train: int
    validation: int
    classes: int
    shortest_side: int | None  # the smallest image's shorter side; None when unknown
    typical_side: int | None  # the median image's shorter side
    all_square_of: int | None  # every image is this many pixels square, else None
    smallest: tuple[int, int] | None = None  # the least width and the least height among the images


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    aim: str
    side: dict[str, int]  # the largest input side, by device
    epochs: int
    budget: dict[str, float]  # seconds an epoch count is cut down to fit, by device
    min_epochs: int
    early_stopping: bool = False


RECIPES = (
    Recipe("quick", "Quick", "the fastest first model, to see that the labels make sense",
           side={"cpu": 64, "gpu": 96}, epochs=8, budget={"cpu": 120, "gpu": 120}, min_epochs=2),
    Recipe("balanced", "Balanced", "a model worth using, in minutes on a CPU",
           side={"cpu": 96, "gpu": 160}, epochs=15, budget={"cpu": 600, "gpu": 900}, min_epochs=3),
    Recipe("best", "Best", "the most accurate: a deeper network, more epochs, stopping early once it stops improving",
           side={"cpu": 128, "gpu": 224}, epochs=40, budget={"cpu": 3600, "gpu": 3600}, min_epochs=5,
           early_stopping=True),
)
DEFAULT = "balanced"


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    aim: str
    hyperparameters: dict[str, str]
    seconds: float | None
    basis: str  # where the duration estimate comes from

    @property
    def duration_text(self) -> str:
        return spoken(self.seconds)

    @property
    def summary(self) -> str:
        hp = self.hyperparameters
        side = hp["image_shape"].split(",")[-1]
        return (f"ResNet-{hp['num_layers']} · {side}×{side} input · {hp['epochs']} epochs"
                f"{' at most' if hp.get('early_stopping') == 'True' else ''} · batch {hp['mini_batch_size']}")


def spoken(seconds: float | None) -> str:
    """"about 40 s", "about 7 min", "about 2 h 10 min"."""
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min"


def _depth(recipe: Recipe, device: str, side: int, train: int) -> int:
    """CIFAR-style ResNets for small inputs and a CPU; on a GPU, ImageNet ones once the images are large."""
    if device == "gpu" and side >= 128:
        return {"quick": 18, "balanced": 18 if train < 5000 else 34, "best": 34 if train < 5000 else 50}[recipe.name]
    return {"quick": 20, "balanced": 20, "best": 32 if train < 2000 else 56}[recipe.name]


def _batch(device: str, train: int) -> int:
    """About ten updates per epoch on a small set, and at most what one machine holds comfortably."""
    largest = 32 if device == "cpu" else 128
    wanted = 2 ** max(3, round(math.log2(max(train / 10, 1))))
    return max(1, min(wanted, largest, train))


def speed_from_table(*, num_layers: int, side: int, device: str = "cpu") -> float:
    """Images/s from CPU_SPEEDS, at the nearest measured depth and side, scaled by depth and pixels."""
    depth = min(CPU_SPEEDS, key=lambda d: (abs(d - num_layers), d))
    row = CPU_SPEEDS[depth]
    near = min(row, key=lambda s: abs(s - side))
    speed = row[near] * (near / side) ** 2 * depth / num_layers
    return speed * (GPU_SPEEDUP if device == "gpu" else 1.0)


def duration(*, train: int, validation: int, epochs: int, speed: float) -> float:
    return STARTUP_SECONDS + epochs * (train + validation * VALIDATION_COST) / max(speed, 1e-6)


def fit(recipe: Recipe, shape: VersionShape, device: str, speed_of=None) -> Preset:
    """One preset: ``speed_of(num_layers, image_shape)`` gives measured images/s or None."""
    side = min(recipe.side[device], shape.typical_side or recipe.side[device])
    depth = _depth(recipe, device, side, shape.train)
    batch = _batch(device, shape.train)
    image_shape = f"3,{side},{side}"
    measured = speed_of(depth, image_shape) if speed_of else None
    speed = measured or speed_from_table(num_layers=depth, side=side, device=device)
    per_epoch = duration(train=shape.train, validation=shape.validation, epochs=1, speed=speed) - STARTUP_SECONDS
    epochs = max(recipe.min_epochs, min(recipe.epochs, int(recipe.budget[device] // max(per_epoch, 1e-6))))
    hp = {
        "num_layers": str(depth), "image_shape": image_shape, "epochs": str(epochs), "mini_batch_size": str(batch),
        "optimizer": "sgd", "momentum": "0.9", "weight_decay": "0.0001",
        # The linear scaling rule from 0.05 at batch 16, which trains these sets well (tested on photo crops).
        "learning_rate": f"{min(0.1, 0.05 * batch / 16):g}",
        "lr_scheduler_step": str(max(1, round(epochs * 2 / 3))), "lr_scheduler_factor": "0.1",
        "augmentation_type": "crop",
    }
    if shape.all_square_of != side:
        # Scaled to the input, so an image of any size fits (and a large one is not just cropped).
        hp["resize"] = str(side)
    if recipe.early_stopping:
        hp.update(early_stopping="True", early_stopping_min_epochs=str(min(10, epochs)), early_stopping_patience="5")
    seconds = duration(train=shape.train, validation=shape.validation, epochs=epochs, speed=speed)
    basis = basis_of(measured=bool(measured), device=device)
    return Preset(recipe.name, recipe.title, recipe.aim, hp, seconds, basis)


def basis_of(*, measured: bool, device: str) -> str:
    """Where a duration estimate comes from, in a few words."""
    if measured:
        return "timed on earlier jobs here"
    return "timed on a 2-core CPU" if device == "cpu" else "a rough guess until a job has run on a GPU"


def presets_for(shape: VersionShape, device: str, speed_of=None) -> list[Preset]:
    return [fit(recipe, shape, device, speed_of) for recipe in RECIPES]
