"""The ResNets of spec 0.1 and 7.1: MXNet's layer names, every depth at every input size."""
from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest

from classifier import networks


def _parameters(symbol, shape):
    arg_shapes, out_shapes, _ = symbol.infer_shape(data=(1, *shape))
    shapes = dict(zip(symbol.list_arguments(), arg_shapes))
    shapes.pop("data"), shapes.pop("softmax_label")
    return shapes, out_shapes[0]


@pytest.mark.parametrize("depth, count", [(18, 11_689_512), (34, 21_797_672), (50, 25_557_032), (101, 44_549_160)])
def test_imagenet_depths_have_resnet_v2_sizes(depth, count):
    shapes, out = _parameters(networks.get_symbol(1000, depth, (3, 224, 224)), (3, 224, 224))
    total = sum(int(np.prod(s)) for s in shapes.values())
    # Pre-activation ResNets have He et al.'s parameter counts plus the extra BatchNorms (bn_data, bn1...).
    assert abs(total - count) / count < 0.002, total
    assert out == (1, 1000)


def test_model_zoo_names_and_shapes():
    shapes, _ = _parameters(networks.get_symbol(1000, 18, (3, 224, 224)), (3, 224, 224))
    assert shapes["conv0_weight"] == (64, 3, 7, 7)
    assert shapes["stage1_unit1_conv1_weight"] == (64, 64, 3, 3)
    assert shapes["stage2_unit1_sc_weight"] == (128, 64, 1, 1)
    assert shapes["stage4_unit2_conv2_weight"] == (512, 512, 3, 3)
    assert shapes["fc1_weight"] == (1000, 512) and "bn0_gamma" in shapes and "bn_data_beta" in shapes
    shapes, _ = _parameters(networks.get_symbol(10, 50, (3, 224, 224)), (3, 224, 224))
    assert shapes["stage1_unit1_conv3_weight"] == (256, 64, 1, 1)


@pytest.mark.parametrize("depth", networks.DEPTHS)
@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 32, 32), (1, 64, 48), (3, 224, 224)])
def test_every_depth_builds_at_every_size(depth, shape):
    symbol = networks.get_symbol(7, depth, shape)
    shapes, out = _parameters(symbol, shape)
    assert out == (1, 7)
    stages = {name.split("_")[0] for name in shapes if name.startswith("stage")}
    assert len(stages) == (3 if depth in networks.CIFAR_DEPTHS else 4)
    small_stem = shape[1] <= 32
    assert shapes["conv0_weight"][2:] == ((3, 3) if small_stem else (7, 7))
    assert ("bn0_gamma" in shapes) is not small_stem


def test_forward_pass_gives_probabilities():
    symbol = networks.get_symbol(5, 20, (3, 32, 32))
    executor = symbol.simple_bind(mx.cpu(), data=(2, 3, 32, 32), grad_req="null")
    for name, array in executor.arg_dict.items():
        if name not in ("data", "softmax_label"):
            array[:] = np.random.default_rng(0).normal(0, 0.1, array.shape)
    out = executor.forward(data=mx.nd.ones((2, 3, 32, 32)) * 100)[0].asnumpy()
    assert out.shape == (2, 5) and np.allclose(out.sum(axis=1), 1, atol=1e-5) and np.isfinite(out).all()
    multi = networks.get_symbol(5, 20, (3, 32, 32), multi_label=True)
    assert multi.list_outputs() == ["softmax_output"]
