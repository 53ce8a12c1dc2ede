"""Prediction with a model.tar.gz, loaded once: SageMaker's preprocessing and response formats.

Images are decoded to RGB (or grayscale for 1-channel models), resized to H x W ignoring the
aspect ratio, and fed as raw 0-255 floats (spec 0.2, 0.4, 5.1). Any SageMaker artifact works: the
network is read from the artifact's own symbol up to ``fc1``, and the output activation (softmax,
or sigmoid for multi-label models) is chosen from the symbol's head.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import mxnet as mx
import numpy as np

from classifier import artifacts, weights
from classifier.errors import ArtifactError, ImageDecodeError

JSON = "application/json"
JSON_LINES = "application/jsonlines"
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def default_context() -> mx.Context:
    return mx.gpu(0) if mx.context.num_gpus() else mx.cpu()


class Predictor:
    """A model ready to answer; ``predict`` takes encoded JPEG/PNG bytes."""

    def __init__(self, artifact_path: Path, *, context: mx.Context | None = None):
        self._unpacked = tempfile.TemporaryDirectory(prefix="icstudio-model-")
        model = artifacts.read_artifact(artifact_path, Path(self._unpacked.name))
        self.context = context or default_context()
        self.channels, self.height, self.width = model.image_shape
        symbol = mx.sym.load(str(model.symbol))
        self.multi_label = _head(model.symbol_json) == "LogisticRegressionOutput"
        internals = symbol.get_internals()
        if "fc1_output" not in internals.list_outputs():
            raise ArtifactError(f"{artifact_path}: the network has no fc1 layer, so it is not an image-classification model")
        self.net = weights.network_block(internals["fc1_output"])
        self.net.initialize(ctx=self.context)
        self.net(mx.nd.zeros((1, *model.image_shape), ctx=self.context))
        left = weights.load_params(self.net, weights.read_params(model.params), source=str(artifact_path))
        if left:
            raise ArtifactError(f"{artifact_path}: the .params file lacks {', '.join(left[:3])}")
        self.net.hybridize(static_alloc=True)
        self.num_classes = int(self.net(mx.nd.zeros((1, *model.image_shape), ctx=self.context)).shape[1])
        self.class_names = model.class_names or [str(i) for i in range(self.num_classes)]
        self.hyperparameters = model.hyperparameters
        self.epoch = model.epochs[-1]

    def preprocess(self, image: bytes) -> mx.nd.NDArray:
        """HxWxC uint8 pixels of one encoded image, resized to the model's input size."""
        if not isinstance(image, (bytes, bytearray)) or not image.startswith(_SIGNATURES):
            raise ImageDecodeError("not a JPEG or PNG image")
        try:
            pixels = mx.image.imdecode(bytes(image), flag=1 if self.channels == 3 else 0)
        except mx.base.MXNetError as error:
            raise ImageDecodeError("the image data is corrupt and cannot be decoded") from error
        return mx.image.imresize(pixels, self.width, self.height, interp=1)

    def predict_arrays(self, pixels: Sequence[mx.nd.NDArray]) -> np.ndarray:
        batch = mx.nd.stack(*pixels).transpose((0, 3, 1, 2)).astype("float32").as_in_context(self.context)
        scores = self.net(batch)
        probabilities = mx.nd.sigmoid(scores) if self.multi_label else mx.nd.softmax(scores)
        return probabilities.asnumpy()

    def predict(self, images: Sequence[bytes]) -> np.ndarray:
        """Probabilities in class-index order, one row per image."""
        if not images:
            return np.zeros((0, self.num_classes), np.float32)
        return self.predict_arrays([self.preprocess(image) for image in images])

    def predict_one(self, image: bytes) -> list[float]:
        return self.predict([image])[0].tolist()

    def top_k(self, probabilities: np.ndarray, k: int = 5) -> list[dict]:
        order = np.argsort(-probabilities)[: min(k, len(probabilities))]
        return [{"index": int(i), "label": self.class_names[i], "probability": float(probabilities[i])} for i in order]

    def close(self) -> None:
        self._unpacked.cleanup()


def _head(symbol_json: dict) -> str:
    nodes, heads = symbol_json.get("nodes", []), symbol_json.get("heads", [])
    return nodes[heads[0][0]].get("op", "") if heads and nodes else ""


def render(probabilities: Sequence[float], accept: str | None) -> tuple[bytes, str]:
    """The response body and content type SageMaker gives for ``accept`` (spec 0.4)."""
    values = [float(p) for p in probabilities]
    kind = (accept or "").split(";")[0].strip().lower()
    if kind in ("", "*/*", JSON):
        return json.dumps(values).encode(), JSON
    if kind == JSON_LINES:
        return (json.dumps({"prediction": values}) + "\n").encode(), JSON_LINES
    raise ValueError(f"unsupported Accept {accept!r}: use {JSON} or {JSON_LINES}")


def json_line(probabilities: Sequence[float], **extra) -> str:
    """One JSON Lines record ``{"prediction": [...]}`` (batch output, with e.g. the file name)."""
    return json.dumps({**extra, "prediction": [float(p) for p in probabilities]})
