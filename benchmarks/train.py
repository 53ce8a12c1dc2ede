"""Training throughput of ``classifier.training.train`` (metrics, events, checkpoints on) against a
bare Gluon loop on the same .rec, network, batch size and iterator. Target ratio: >= 0.95.

    python benchmarks/train.py [--images 2048] [--epochs 3] [--layers 20] [--size 32] [--batch 32]
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mxnet as mx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier import data, networks, recordio, weights  # noqa: E402
from classifier.hyperparameters import parse_hyperparameters  # noqa: E402
from classifier.optimization import make_optimizer  # noqa: E402
from classifier.training import train  # noqa: E402


def write_rec(path: Path, count: int, size: int, classes: int) -> Path:
    rng = np.random.default_rng(0)
    with recordio.IndexedRecordWriter(path, path.with_suffix(".idx")) as writer:
        for index in range(count):
            pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
            header = recordio.IRHeader(0, float(index % classes), index, 0)
            writer.write(index, recordio.pack_record(header, buffer.getvalue()))
    return path


def bare_gluon_epochs(hp, rec: Path, epochs: int) -> list[float]:
    """Images/s per epoch of the plainest loop that trains the same network on the same data."""
    net = weights.network_block(networks.logits(hp.num_classes, hp.num_layers, hp.image_shape))
    for name, param in net.collect_params().items():
        param.init = mx.init.One() if name.endswith(("_gamma", "_moving_var")) else (
            mx.init.Zero() if name.endswith(("_beta", "_bias", "_moving_mean")) else mx.init.Xavier())
    net.initialize()
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = mx.gluon.Trainer(net.collect_params(), make_optimizer(hp))
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    speeds = []
    for epoch in range(epochs):
        seen, tic = 0, time.time()
        batches = data.record_iter(rec, rec.with_suffix(".idx"), hp, batch_size=hp.mini_batch_size, train=True, seed=epoch)
        for batch in batches:
            x, y = batch.data[0].as_in_context(mx.cpu()), batch.label[0].as_in_context(mx.cpu())
            with mx.autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(batch.data[0].shape[0])
            seen += batch.data[0].shape[0]
        mx.nd.waitall()
        speeds.append(seen / (time.time() - tic))
    return speeds


def library_epochs(hp, rec: Path, epochs: int, work: Path) -> list[float]:
    """Images/s per epoch of the library, from the training time it records per epoch."""
    batches = -(-hp.num_training_samples // hp.mini_batch_size)
    result = train(hp.replace(epochs=epochs), train_rec=rec, validation_rec=rec, model_dir=work)
    return [batches * hp.mini_batch_size / row["time"] for row in result.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rec = write_rec(Path(scratch) / "train.rec", args.images, args.size, 10)
        hp = parse_hyperparameters({
            "num_classes": 10, "num_training_samples": args.images, "num_layers": args.layers,
            "image_shape": f"3,{args.size},{args.size}", "mini_batch_size": args.batch, "epochs": args.epochs,
            "learning_rate": 0.01,
        })
        bare, ours = [], []
        for round_ in range(2):  # interleaved, so drift in the machine's speed hits both alike
            bare += bare_gluon_epochs(hp, rec, args.epochs)
            ours += library_epochs(hp, rec, args.epochs, Path(scratch) / f"run{round_}")
    # The first epoch of each run pays for graph building; compare the steady state.
    bare_speed = statistics.median(bare[1:args.epochs] + bare[args.epochs + 1:])
    our_speed = statistics.median(ours[1:args.epochs] + ours[args.epochs + 1:])
    print(f"network: ResNet-{args.layers} at {args.size}x{args.size}, batch {args.batch}, {args.images} images")
    print(f"bare Gluon loop : {bare_speed:8.1f} images/s")
    print(f"classifier.train: {our_speed:8.1f} images/s")
    print(f"ratio (ours / bare): {our_speed / bare_speed:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
