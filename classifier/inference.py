"""Prediction with a model.tar.gz, loaded once: SageMaker's preprocessing and response formats.

Images are decoded to RGB (or grayscale for 1-channel models), resized to H x W ignoring the
aspect ratio, and fed as raw 0-255 floats (spec 0.2, 0.4, 5.1). Any SageMaker artifact works: the
network is read from the artifact's own symbol up to ``fc1``, and the output activation (softmax,
or sigmoid for multi-label models) is chosen from the symbol's head.
"""
from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

import mxnet as mx
import numpy as np
import PIL.Image

from classifier import artifacts, weights
from classifier.errors import ArtifactError, ImageDecodeError

from classifier.invocation_contract import _SIGNATURES

# Decoding allocates H x W x 3 bytes; above this an image is refused before it is decoded.
MAX_PIXELS = 100_000_000


def default_context() -> mx.Context:
    return mx.gpu(0) if mx.context.num_gpus() else mx.cpu()


class Predictor:
    """A model ready to answer; ``predict`` takes encoded JPEG/PNG bytes.

    ``artifact_path`` is a model.tar.gz or the directory SageMaker unpacks one into.
    """

    def __init__(self, artifact_path: Path, *, context: mx.Context | None = None):
        artifact_path = Path(artifact_path)
        if artifact_path.is_dir():
            self._load(artifacts.read_model_directory(artifact_path), artifact_path, context)
        else:
            with tempfile.TemporaryDirectory(prefix="icstudio-model-") as unpacked:
                self._load(artifacts.read_artifact(artifact_path, Path(unpacked)), artifact_path, context)

    def _load(self, model: artifacts.Artifact, artifact_path: Path, context: mx.Context | None) -> None:
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
        self.image_shape = model.image_shape
        # What keeping it loaded costs: float32 weights, twice over for the static-alloc buffers.
        self.memory_bytes = 2 * model.params.stat().st_size

    def preprocess(self, image: bytes) -> mx.nd.NDArray:
        """HxWxC uint8 pixels of one encoded image, resized to the model's input size."""
        if not isinstance(image, (bytes, bytearray)) or not image.startswith(_SIGNATURES):
            raise ImageDecodeError("not a JPEG or PNG image")
        _check_header(image)
        try:
            pixels = self._reduced(image)
            if pixels is None:
                pixels = mx.image.imdecode(bytes(image), flag=1 if self.channels == 3 else 0)
            resized = mx.image.imresize(pixels, self.width, self.height, interp=1)
            resized.wait_to_read()  # MXNet reports a failed decode only when its result is read
        except mx.base.MXNetError as error:
            raise ImageDecodeError("the image data is corrupt and cannot be decoded") from error
        return resized

    def _reduced(self, image: bytes) -> mx.nd.NDArray | None:
        """A JPEG at least twice the input size, decoded at 1/2, 1/4 or 1/8 scale (libjpeg scales while it
        decodes, so a 24-megapixel photo costs a 64th of its full decode); None for anything else."""
        try:
            with PIL.Image.open(io.BytesIO(image)) as picture:
                width, height = picture.size
                if picture.format != "JPEG" or width < 2 * self.width or height < 2 * self.height:
                    return None
                mode = "RGB" if self.channels == 3 else "L"
                picture.draft(mode, (self.width, self.height))  # the smallest scale still at least that size
                pixels = np.asarray(picture.convert(mode))
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageDecodeError("the image data is corrupt and cannot be decoded") from error
        return mx.nd.array(pixels if pixels.ndim == 3 else pixels[:, :, None], dtype="uint8")

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


def _check_header(image: bytes) -> None:
    """Refuse, from its header alone, an image whose claimed size would exhaust memory when decoded."""
    try:
        with PIL.Image.open(io.BytesIO(image)) as header:
            width, height = header.size
    except PIL.Image.DecompressionBombError as error:
        raise ImageDecodeError(f"the image is too large to decode ({error})") from error
    except (PIL.UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ImageDecodeError("the image data is corrupt and cannot be decoded") from error
    if width * height > MAX_PIXELS:
        raise ImageDecodeError(f"the image is {width}x{height} pixels; at most {MAX_PIXELS} pixels are accepted")


def _head(symbol_json: dict) -> str:
    nodes, heads = symbol_json.get("nodes", []), symbol_json.get("heads", [])
    return nodes[heads[0][0]].get("op", "") if heads and nodes else ""
