"""SageMaker's image-classification hyperparameters: names, defaults, ranges and the rules between them.

Values arrive as strings, as SageMaker passes them, or as JSON numbers and booleans. Every problem
in one set is collected and raised together in a ``HyperparameterError``. ``SCHEMA`` is the table the
web form renders. Pure Python: the web process uses this module without MXNet.
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from classifier.errors import HyperparameterError
from classifier.resnet_depths import DEPTHS, IMAGENET_DEPTHS
MIN_SIDE, MAX_SIDE = 8, 2048  # beyond these a ResNet either collapses to nothing or cannot fit in memory


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str  # int | float | bool | flag | choice | shape | int_list | str
    default: str | None
    help: str
    required: bool = False
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None


# SageMaker documents epochs as any positive integer. Ours stop at 10,000: far past any run that ends
# within SageMaker's own 28-day limit on a training job here, and each epoch is a stored event and a point
# on the job's chart, so 1e12 would be a job that never ends and a history no page can show.
MAX_EPOCHS = 10_000


def _p(name, kind, default, help, **rest) -> tuple[str, ParamSpec]:
    return name, ParamSpec(name, kind, default, help, **rest)


# In the order of the spec's table (section 1.1).
SCHEMA: dict[str, ParamSpec] = dict([
    _p("num_classes", "int", None, "Number of output classes (for multi-label, all classes).", required=True, minimum=1),
    _p("num_training_samples", "int", None, "Number of training images; the learning-rate schedule counts updates from it.",
       required=True, minimum=1),
    _p("augmentation_type", "choice", None, "Data augmentation: random crop and flip, plus colour jitter, plus affine warp.",
       choices=("crop", "crop_color", "crop_color_transform")),
    _p("beta_1", "float", "0.9", "Adam's first-moment decay.", minimum=0, maximum=1),
    _p("beta_2", "float", "0.999", "Adam's second-moment decay.", minimum=0, maximum=1),
    _p("checkpoint_frequency", "int", None, "Keep the weights of every N-th epoch; unset keeps only the best epoch.",
       minimum=1),
    _p("early_stopping", "bool", "False", "Stop when validation accuracy stops improving."),
    _p("early_stopping_min_epochs", "int", "10", "Early stopping never stops before this epoch.", minimum=1),
    _p("early_stopping_patience", "int", "5", "Epochs without improvement before stopping.", minimum=1),
    _p("early_stopping_tolerance", "float", "0.0", "Relative gain in validation accuracy that counts as improvement.",
       minimum=0, maximum=1),
    _p("epochs", "int", "30", "Passes over the training data; the model keeps the best epoch's weights unless "
       f"checkpoint_frequency is set. At most {MAX_EPOCHS:,}.", minimum=1, maximum=MAX_EPOCHS),
    _p("eps", "float", "1e-8", "Epsilon of adam and rmsprop.", minimum=0, maximum=1),
    _p("gamma", "float", "0.9", "RMSProp's decay of the squared-gradient average.", minimum=0, maximum=1),
    _p("image_shape", "shape", "3,224,224", "Network input as channels,height,width; transfer learning needs 3,224,224."),
    _p("kv_store", "choice", None, "Weight synchronisation across machines (device on one machine).",
       choices=("dist_sync", "dist_async", "device", "local")),
    _p("learning_rate", "float", "0.1", "Initial learning rate.", minimum=0, maximum=1),
    _p("lr_scheduler_factor", "float", "0.1", "The learning rate is multiplied by this at each step epoch.",
       minimum=0, maximum=1),
    _p("lr_scheduler_step", "int_list", None, "Comma-separated epochs after which the learning rate drops, e.g. 10,20."),
    _p("mini_batch_size", "int", "32", "Images per batch on one machine, split across its GPUs.", minimum=1),
    _p("momentum", "float", "0.9", "Momentum of sgd and nag.", minimum=0, maximum=1),
    _p("multi_label", "flag", "0", "1: each image may carry several classes (sigmoid outputs)."),
    _p("num_layers", "choice", "152", "ResNet depth: 20-110 are built for small images (up to about 128 px) and "
       "train fast; 18-200 for large ones, much slower on a CPU.", choices=DEPTHS),
    _p("optimizer", "choice", "sgd", "sgd (with momentum), nag, adam or rmsprop; each reads only its own settings below.",
       choices=("sgd", "adam", "rmsprop", "nag")),
    _p("precision_dtype", "choice", "float32", "float16 trains in mixed precision on GPUs.",
       choices=("float32", "float16")),
    _p("resize", "int", None, "Scales every image so that its shorter side has this many pixels, keeping its "
       "aspect ratio: a larger image shrinks, a smaller one is enlarged, one of that size is left alone. Then "
       "image_shape is cropped from it (the centre for validation, a random place when augmentation_type crops). "
       "At least image_shape's larger side. Unset: images keep their size, a larger one is cropped to image_shape "
       "without scaling, a smaller one is refused. Image (.lst) input needs it: images are resized once, "
       "when packed.", minimum=1),
    _p("top_k", "int", None, "Also report top-k accuracy for this k.", minimum=2),
    _p("use_pretrained_model", "flag", "0", "1: start from ImageNet weights and train a new classifier layer."),
    _p("use_weighted_loss", "flag", "0", "1: weight each class's loss by its frequency (multi-label only)."),
    _p("weight_decay", "float", "0.0001", "L2 weight decay of sgd and nag.", minimum=0, maximum=1),
    _p("model_prefix", "str", None, "Accepted for compatibility with AWS's examples, and ignored."),
])


class _Invalid(ValueError):
    pass


def _number(text: str, kind: type):
    try:
        value = float(text)
    except ValueError:
        raise _Invalid(f"must be {'an integer' if kind is int else 'a number'}, not {text!r}") from None
    if kind is int:
        if not value.is_integer():
            raise _Invalid(f"must be an integer, not {text!r}")
        return int(value)
    if not math.isfinite(value):
        raise _Invalid(f"must be a finite number, not {text!r}")
    return value


def _convert(spec: ParamSpec, raw: Any):
    if isinstance(raw, bool) and spec.kind not in ("bool", "flag"):
        raise _Invalid(f"must be {spec.kind}, not {raw!r}")
    text = str(raw).strip()
    if spec.kind == "int":
        value = _number(text, int)
    elif spec.kind == "float":
        value = _number(text, float)
    elif spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise _Invalid(f"must be True or False, not {text!r}")
    elif spec.kind == "flag":
        if isinstance(raw, bool):
            return raw
        if text in ("0", "1"):
            return text == "1"
        raise _Invalid(f"must be 0 or 1, not {text!r}")
    elif spec.kind == "choice":
        options = spec.choices or ()
        value = _number(text, int) if isinstance(options[0], int) else text
        if value not in options:
            listed = ", ".join(f"'{option}'" for option in options)
            raise _Invalid(
                f"The value '{text}' is not valid for the '{spec.name}' hyperparameter which accepts one of the "
                f"following: {listed}"
            )
        return value
    elif spec.kind == "shape":
        return _shape(text)
    elif spec.kind == "int_list":
        return _epochs_list(text)
    else:
        return text
    if spec.minimum is not None and value < spec.minimum or spec.maximum is not None and value > spec.maximum:
        if spec.maximum is None:
            raise _Invalid(f"must be at least {spec.minimum:g}, not {value}")
        raise _Invalid(f"must be between {spec.minimum:g} and {spec.maximum:g}, not {value}")
    return value


def _shape(text: str) -> tuple[int, int, int]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise _Invalid(f"must be three integers 'C,H,W' such as '3,224,224', not {text!r}")
    channels, height, width = map(int, parts)
    if channels not in (1, 3):
        raise _Invalid(f"must have 1 or 3 channels, not {channels}")
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise _Invalid(f"height and width must be between {MIN_SIDE} and {MAX_SIDE}, not {height}x{width}")
    return channels, height, width


def _epochs_list(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise _Invalid(f"must be comma-separated positive epochs such as '10,20', not {text!r}")
    steps = tuple(int(part) for part in parts)
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise _Invalid(f"epochs must increase, not {text!r}")
    return steps


def _default(spec: ParamSpec):
    return None if spec.default is None else _convert(spec, spec.default)


@dataclass(frozen=True)
class Hyperparameters:
    num_classes: int
    num_training_samples: int
    augmentation_type: str | None = None
    beta_1: float = 0.9
    beta_2: float = 0.999
    checkpoint_frequency: int | None = None
    early_stopping: bool = False
    early_stopping_min_epochs: int = 10
    early_stopping_patience: int = 5
    early_stopping_tolerance: float = 0.0
    epochs: int = 30
    eps: float = 1e-8
    gamma: float = 0.9
    image_shape: tuple[int, int, int] = (3, 224, 224)
    kv_store: str | None = None
    learning_rate: float = 0.1
    lr_scheduler_factor: float = 0.1
    lr_scheduler_step: tuple[int, ...] = ()
    mini_batch_size: int = 32
    momentum: float = 0.9
    multi_label: bool = False
    num_layers: int = 152
    optimizer: str = "sgd"
    precision_dtype: str = "float32"
    resize: int | None = None
    top_k: int | None = None
    use_pretrained_model: bool = False
    use_weighted_loss: bool = False
    weight_decay: float = 0.0001

    @property
    def effective_kv_store(self) -> str:
        """Spec 0.7: ``device`` on one machine, ``dist_sync`` when MXNet's launcher started several workers."""
        several = int(os.environ.get("DMLC_NUM_WORKER", "1")) > 1
        return self.kv_store or ("dist_sync" if several else "device")

    def to_sagemaker(self) -> dict[str, str]:
        """The strings SageMaker would pass for these values; parsing them gives these values back."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or value == ():
                continue
            kind = SCHEMA[field.name].kind
            if kind == "flag":
                out[field.name] = "1" if value else "0"
            elif kind == "bool":
                out[field.name] = "True" if value else "False"
            elif kind in ("shape", "int_list"):
                out[field.name] = ",".join(map(str, value))
            else:
                out[field.name] = str(value)
        return out

    def replace(self, **changes) -> Hyperparameters:
        return parse_hyperparameters({**self.to_sagemaker(), **changes})


def parse_hyperparameters(raw: Mapping[str, Any], *, input_mode: str = "recordio") -> Hyperparameters:
    """Validate ``raw`` against SageMaker's schema; ``input_mode`` "image" (.lst input) needs ``resize``."""
    problems: dict[str, str] = {}
    unexpected = [name for name in raw if name not in SCHEMA]
    if unexpected:
        names = ", ".join(f"'{name}'" for name in unexpected)
        problems[""] = f"Additional hyperparameters are not allowed ({names} {'was' if len(unexpected) == 1 else 'were'} unexpected)"
    values: dict[str, Any] = {}
    for name, spec in SCHEMA.items():
        given = raw.get(name)
        if given is None or (isinstance(given, str) and not given.strip()):
            if spec.required:
                problems[name] = "is required"
            values[name] = _default(spec)
            continue
        try:
            values[name] = _convert(spec, given)
        except _Invalid as error:
            problems[name] = str(error)
    values.pop("model_prefix")
    for name, message in _cross_field_problems(values, input_mode):
        problems.setdefault(name, message)
    if problems:
        raise HyperparameterError(problems)
    values["lr_scheduler_step"] = values["lr_scheduler_step"] or ()
    return Hyperparameters(**values)


def _cross_field_problems(v: dict[str, Any], input_mode: str):
    """Rules between values, checked only where each value involved is itself valid."""
    if v.get("checkpoint_frequency") and v.get("epochs") and v["checkpoint_frequency"] > v["epochs"]:
        yield "checkpoint_frequency", f"must be at most epochs ({v['epochs']}), not {v['checkpoint_frequency']}"
    if v.get("top_k") and v.get("num_classes") and v["top_k"] > v["num_classes"]:
        yield "top_k", f"must be at most num_classes ({v['num_classes']}), not {v['top_k']}"
    if v.get("use_pretrained_model"):
        if v.get("num_layers") and v["num_layers"] not in IMAGENET_DEPTHS:
            yield "num_layers", (f"transfer learning (use_pretrained_model=1) needs one of "
                                 f"{', '.join(map(str, IMAGENET_DEPTHS))}, not {v['num_layers']}")
        if v.get("image_shape") and v["image_shape"] != (3, 224, 224):
            yield "image_shape", "transfer learning (use_pretrained_model=1) needs 3,224,224"
    shape = v.get("image_shape")
    if v.get("resize") and shape and v["resize"] < max(shape[1:]):
        yield "resize", (f"must be at least the larger side of image_shape ({max(shape[1:])}), not {v['resize']}: "
                         "smaller images cannot be cropped to the network's input")
    if input_mode == "image" and v.get("resize") is None:
        yield "resize", "is required for image (.lst) input"


def architecture_mismatch(model: Hyperparameters | Mapping, job: Hyperparameters | Mapping) -> list[str]:
    """Differences among num_layers, image_shape and num_classes, which define the architecture
    (spec 4.2): incremental training from a different one is refused with these lines."""
    def get(source, name):
        value = getattr(source, name, None) if isinstance(source, Hyperparameters) else source.get(name)
        if isinstance(value, str):
            value = _shape(value) if name == "image_shape" else int(value)
        return tuple(value) if isinstance(value, (list, tuple)) else value

    lines = []
    for name in ("num_layers", "image_shape", "num_classes"):
        a, b = get(model, name), get(job, name)
        if a is not None and b is not None and a != b:
            show = lambda x: ",".join(map(str, x)) if isinstance(x, tuple) else x  # noqa: E731
            lines.append(f"{name}: model has {show(a)}, job asks for {show(b)}")
    return lines


def epoch_size(hp: Hyperparameters, num_workers: int = 1) -> int:
    """Updates per epoch, as MXNet's example counts them for the learning-rate schedule (spec 7.4)."""
    return math.ceil((hp.num_training_samples // num_workers) / hp.mini_batch_size)


def log_parameters(hp: Hyperparameters) -> list[str]:
    """The container's configuration block (spec 1.2), for the training log."""
    lines = [f"use_pretrained_model: {int(hp.use_pretrained_model)}", f"multi_label: {int(hp.multi_label)}",
             "---- Parameters ----", f"num_layers: {hp.num_layers}", f"data type: <type 'numpy.{hp.precision_dtype}'>",
             f"epochs: {hp.epochs}"]
    if hp.resize:
        lines.append(f"image resize size: {hp.resize}")
    lines += [f"optimizer: {hp.optimizer}", f"momentum: {hp.momentum}", f"weight_decay: {hp.weight_decay}",
              f"learning_rate: {hp.learning_rate}", f"num_training_samples: {hp.num_training_samples}",
              f"mini_batch_size: {hp.mini_batch_size}", f"image_shape: {','.join(map(str, hp.image_shape))}",
              f"num_classes: {hp.num_classes}", f"augmentation_type: {hp.augmentation_type}",
              f"kv_store: {hp.effective_kv_store}"]
    if hp.top_k:
        lines.append(f"top_k: {hp.top_k}")
    if hp.checkpoint_frequency:
        lines.append(f"checkpoint_frequency: {hp.checkpoint_frequency}")
    else:
        lines.append("checkpoint_frequency not set, will store the best model")
    return lines
