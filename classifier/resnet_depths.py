"""The ResNet depths SageMaker's ``num_layers`` accepts, and the units per stage of each: the one table.

No MXNet here: the hyperparameter schema (which the web process reads) and the model-zoo download
need the depths, the network builder needs the units.
"""
from __future__ import annotations

# 3 stages of (depth - 2) / 6 basic units each, for small images (CIFAR-10's ResNets).
CIFAR_DEPTHS = (20, 32, 44, 56, 110)

# 4 stages; 50 and deeper use bottleneck units. These are also the depths MXNet's model zoo has
# ImageNet weights for (SageMaker's use_pretrained_model).
IMAGENET_UNITS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}
IMAGENET_DEPTHS = tuple(IMAGENET_UNITS)

DEPTHS = tuple(sorted(CIFAR_DEPTHS + IMAGENET_DEPTHS))
