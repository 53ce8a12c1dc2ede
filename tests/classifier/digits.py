"""scikit-learn's bundled digits (1,797 8x8 images) as a folder-per-class tree of 32x32 RGB JPEGs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

CLASS_NAMES = [f"digit{i}" for i in range(10)]


def write_digits_tree(root: Path) -> Path:
    digits = load_digits()
    for name in CLASS_NAMES:
        (root / name).mkdir(parents=True, exist_ok=True)
    for index, (pixels, label) in enumerate(zip(digits.images, digits.target)):
        gray = Image.fromarray((pixels * (255 / 16)).astype(np.uint8))
        image = gray.resize((32, 32), Image.BILINEAR).convert("RGB")
        image.save(root / CLASS_NAMES[label] / f"{index:04d}.jpg", quality=95)
    return root


DIGITS_HYPERPARAMETERS = {
    "num_classes": "10",
    "num_training_samples": "1437",
    "num_layers": "20",
    "image_shape": "3,32,32",
    "epochs": "10",
    "mini_batch_size": "32",
    "learning_rate": "0.1",
    "lr_scheduler_step": "6,9",
    "lr_scheduler_factor": "0.1",
    "top_k": "2",
}
