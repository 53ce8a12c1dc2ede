"""The pre-activation ResNets SageMaker trains, as MXNet symbols with MXNet's layer names.

Layer and parameter names (``bn_data``, ``conv0``, ``stage1_unit1_bn1``, ..., ``fc1``, ``softmax``)
are those of MXNet's ``example/image-classification/symbols/resnet.py``, so SageMaker artifacts and
MXNet model-zoo checkpoints load into these networks and ours load into theirs (spec section 0.1).
Unlike that script, every depth works at every input size: CIFAR depths always build the 3-stage
network and ImageNet depths the 4-stage one.
"""
from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx

from classifier.resnet_depths import CIFAR_DEPTHS, DEPTHS, IMAGENET_UNITS

BN_EPS = 2e-5
BN_MOMENTUM = 0.9



@dataclass(frozen=True)
class Layout:
    units: tuple[int, ...]
    filters: tuple[int, ...]  # stem width, then one width per stage
    bottleneck: bool


def layout(num_layers: int) -> Layout:
    if num_layers in CIFAR_DEPTHS:
        per_stage = (num_layers - 2) // 6
        return Layout((per_stage,) * 3, (16, 16, 32, 64), bottleneck=False)
    if num_layers in IMAGENET_UNITS:
        bottleneck = num_layers >= 50
        filters = (64, 256, 512, 1024, 2048) if bottleneck else (64, 64, 128, 256, 512)
        return Layout(IMAGENET_UNITS[num_layers], filters, bottleneck)
    raise ValueError(f"num_layers must be one of {DEPTHS}, not {num_layers}")


def _bn(data, name):
    return mx.sym.BatchNorm(data=data, fix_gamma=False, eps=BN_EPS, momentum=BN_MOMENTUM, name=name)


def _conv(data, name, filters, kernel, stride=1, pad=0):
    return mx.sym.Convolution(
        data=data, num_filter=filters, kernel=(kernel, kernel), stride=(stride, stride),
        pad=(pad, pad), no_bias=True, workspace=256, name=name,
    )


def _relu(data, name):
    return mx.sym.Activation(data=data, act_type="relu", name=name)


def residual_unit(data, name: str, filters: int, stride: int, project: bool, bottleneck: bool):
    """One pre-activation unit (BN-ReLU-conv); ``project`` adds the 1x1 shortcut convolution."""
    pre = _relu(_bn(data, f"{name}_bn1"), f"{name}_relu1")
    if bottleneck:
        inner = filters // 4
        body = _conv(pre, f"{name}_conv1", inner, 1)
        body = _conv(_relu(_bn(body, f"{name}_bn2"), f"{name}_relu2"), f"{name}_conv2", inner, 3, stride, 1)
        body = _conv(_relu(_bn(body, f"{name}_bn3"), f"{name}_relu3"), f"{name}_conv3", filters, 1)
    else:
        body = _conv(pre, f"{name}_conv1", filters, 3, stride, 1)
        body = _conv(_relu(_bn(body, f"{name}_bn2"), f"{name}_relu2"), f"{name}_conv2", filters, 3, 1, 1)
    shortcut = _conv(pre, f"{name}_sc", filters, 1, stride) if project else data
    return body + shortcut


def features(num_layers: int, image_shape: tuple[int, int, int]):
    """The network up to and including ``fc1``'s input (the flattened pooled features)."""
    spec = layout(num_layers)
    _, height, _ = image_shape
    data = mx.sym.identity(data=mx.sym.Variable("data"), name="id")
    body = mx.sym.BatchNorm(data=data, fix_gamma=True, eps=BN_EPS, momentum=BN_MOMENTUM, name="bn_data")
    if height <= 32:
        body = _conv(body, "conv0", spec.filters[0], 3, 1, 1)
    else:
        body = _conv(body, "conv0", spec.filters[0], 7, 2, 3)
        body = _relu(_bn(body, "bn0"), "relu0")
        body = mx.sym.Pooling(data=body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max", name="pool0")
    for stage, units in enumerate(spec.units, start=1):
        stride = 1 if stage == 1 else 2
        for unit in range(1, units + 1):
            body = residual_unit(
                body, f"stage{stage}_unit{unit}", spec.filters[stage],
                stride if unit == 1 else 1, project=unit == 1, bottleneck=spec.bottleneck,
            )
    body = _relu(_bn(body, "bn1"), "relu1")
    body = mx.sym.Pooling(data=body, global_pool=True, kernel=(7, 7), pool_type="avg", name="pool1")
    return mx.sym.Flatten(data=body, name="flatten0")


def logits(num_classes: int, num_layers: int, image_shape: tuple[int, int, int]):
    """The trainable network: raw class scores from ``fc1``."""
    return mx.sym.FullyConnected(data=features(num_layers, image_shape), num_hidden=num_classes, name="fc1")


def with_output(scores, multi_label: bool = False):
    """The inference head. MXNet's ``SoftmaxOutput`` named ``softmax`` for single-label models; for
    multi-label ones a sigmoid under the same name and label (spec 0.5), so loaders that look for
    ``softmax_output`` or ``softmax_label`` work with both."""
    if multi_label:
        return mx.sym.LogisticRegressionOutput(data=scores, name="softmax")
    return mx.sym.SoftmaxOutput(data=scores, name="softmax")


def get_symbol(num_classes: int, num_layers: int, image_shape: tuple[int, int, int], multi_label: bool = False):
    """The whole network as SageMaker saves it in ``image-classification-symbol.json``."""
    return with_output(logits(num_classes, num_layers, image_shape), multi_label)
