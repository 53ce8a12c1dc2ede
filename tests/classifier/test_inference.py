"""The artifact in plain MXNet, and SageMaker's response formats."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap

import numpy as np
import pytest

from classifier import artifacts
from classifier.errors import ArtifactError, ImageDecodeError
from classifier.inference import Predictor
from classifier.invocation_contract import json_line, render

PLAIN_MXNET = textwrap.dedent(
    """
    # No IC Studio code: what a SageMaker user's own script does with model.tar.gz.
    import json, sys, tarfile, tempfile, glob
    import mxnet as mx
    model, images = sys.argv[1], sys.argv[2:]
    directory = tempfile.mkdtemp()
    tarfile.open(model).extractall(directory)
    epoch = max(int(p[-11:-7]) for p in glob.glob(directory + "/image-classification-*.params"))
    shape = json.load(open(directory + "/model-shapes.json"))[0]["shape"]
    symbol, arg_params, aux_params = mx.model.load_checkpoint(directory + "/image-classification", epoch)
    module = mx.mod.Module(symbol=symbol, label_names=None, context=mx.cpu())
    module.bind(for_training=False, data_shapes=[("data", [len(images)] + shape[1:])])
    module.set_params(arg_params, aux_params, allow_missing=True)
    pixels = [mx.image.imresize(mx.image.imdecode(open(p, "rb").read()), shape[3], shape[2]) for p in images]
    batch = mx.nd.stack(*pixels).transpose((0, 3, 1, 2)).astype("float32")
    module.forward(mx.io.DataBatch([batch]), is_train=False)
    print(json.dumps(module.get_outputs()[0].asnumpy().tolist()))
    """
)


def test_plain_mxnet_gives_our_predictor_s_probabilities(digits_model, digits_tree, tmp_path):
    images = [sorted((digits_tree / f"digit{d}").glob("*.jpg"))[0] for d in (0, 5, 9)]
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_MXNET)
    output = subprocess.run([sys.executable, str(script), str(digits_model["artifact"]), *map(str, images)],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    theirs = np.array(json.loads(output.stdout.strip().splitlines()[-1]))
    predictor = Predictor(digits_model["artifact"])
    ours = predictor.predict([p.read_bytes() for p in images])
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert list(ours.argmax(axis=1)) == [0, 5, 9]
    top = predictor.top_k(ours[1], k=3)
    assert top[0]["label"] == "digit5" and len(top) == 3


def test_gluon_symbolblock_imports_the_artifact(digits_model, tmp_path):
    import mxnet as mx

    model = artifacts.read_artifact(digits_model["artifact"], tmp_path)
    # SoftmaxOutput keeps its label input, as in SageMaker's own symbol; at inference it is ignored.
    net = mx.gluon.SymbolBlock.imports(str(model.symbol), ["data", "softmax_label"], str(model.params))
    probabilities = net(mx.nd.zeros((2, 3, 32, 32)), mx.nd.zeros((2,)))
    assert probabilities.shape == (2, 10)
    assert probabilities.sum(axis=1).asnumpy() == pytest.approx([1, 1], abs=1e-5)


def test_predictor_resizes_any_image_to_the_model_input(digits_model):
    from PIL import Image
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (97, 41), (200, 10, 10)).save(buffer, "PNG")
    probabilities = Predictor(digits_model["artifact"]).predict([buffer.getvalue()])
    assert probabilities.shape == (1, 10)
    assert probabilities.sum() == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("payload, message", [(b"plain text", "not a JPEG or PNG"),
                                              (b"\xff\xd8\xff\xe0" + b"\0" * 20, "corrupt")])
def test_predictor_refuses_non_images(digits_model, payload, message):
    with pytest.raises(ImageDecodeError, match=message):
        Predictor(digits_model["artifact"]).predict([payload])


def test_response_formats_follow_sagemaker():
    body, kind = render([0.25, 0.75], None)
    assert (json.loads(body), kind) == ([0.25, 0.75], "application/json")
    assert render([0.25, 0.75], "*/*") == render([0.25, 0.75], "application/json")
    body, kind = render([0.25, 0.75], "application/jsonlines")
    assert (body, kind) == (b'{"prediction": [0.25, 0.75]}\n', "application/jsonlines")
    with pytest.raises(ValueError):
        render([1.0], "text/csv")
    assert json.loads(json_line([0.5, 0.5], file="a.jpg")) == {"file": "a.jpg", "prediction": [0.5, 0.5]}


def _tarball(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            source = path.parent / "member"
            source.write_text(text)
            tar.add(source, arcname=name)
    return path


def test_artifact_errors_name_what_is_wrong(tmp_path):
    missing = _tarball(tmp_path / "a.tar.gz", {"model-shapes.json": '[{"name": "data", "shape": [1, 3, 8, 8]}]'})
    with pytest.raises(ArtifactError, match="image-classification-symbol.json"):
        artifacts.read_artifact(missing, tmp_path / "a")
    nested = _tarball(tmp_path / "b.tar.gz", {"model/image-classification-symbol.json": "{}"})
    with pytest.raises(ArtifactError, match="top level"):
        artifacts.read_artifact(nested, tmp_path / "b")
    bad_shape = _tarball(tmp_path / "c.tar.gz", {
        "image-classification-symbol.json": "{}", "image-classification-0001.params": "",
        "model-shapes.json": '{"shape": 3}'})
    with pytest.raises(ArtifactError, match="model-shapes.json"):
        artifacts.read_artifact(bad_shape, tmp_path / "c")
    (tmp_path / "d.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(ArtifactError, match="not a readable model.tar.gz"):
        artifacts.read_artifact(tmp_path / "d.tar.gz", tmp_path / "d")


def test_highest_epoch_wins_when_several_params_are_present(tmp_path):
    files = {"image-classification-symbol.json": "{}", "model-shapes.json": '[{"name": "data", "shape": [1, 3, 8, 8]}]',
             "image-classification-0002.params": "", "image-classification-0010.params": ""}
    model = artifacts.read_artifact(_tarball(tmp_path / "m.tar.gz", files), tmp_path / "m")
    assert model.epochs == [2, 10] and model.params.name == "image-classification-0010.params"


def test_an_image_claiming_a_huge_size_is_refused_before_decoding(digits_model):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # A valid PNG header saying 40000 x 40000 pixels (4.8 GB decoded), with one tiny data chunk.
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0))
    png = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    with pytest.raises(ImageDecodeError, match="too large|at most"):
        Predictor(digits_model["artifact"]).predict([png])
