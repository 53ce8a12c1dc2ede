"""Training options on tiny synthetic sets: real MXNet, a few seconds each."""
from __future__ import annotations

import json
import tarfile

import mxnet as mx
import numpy as np
import pytest

from classifier import artifacts, data, networks, weights
from classifier.errors import ArtifactError, ClassifierError, PretrainedWeightsMissing, TrainingCancelled
from classifier.events import BatchEnd, Checkpoint, EpochEnd, Log
from classifier.hyperparameters import parse_hyperparameters
from classifier.inference import Predictor
from classifier.training import train
from tests.classifier.synthetic import write_blobs, write_colours

BASE = {
    "num_classes": "3", "num_training_samples": "96", "num_layers": "20", "image_shape": "3,32,32",
    "epochs": "2", "mini_batch_size": "16", "learning_rate": "0.05",
}


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    root = tmp_path_factory.mktemp("colours")
    return write_colours(root / "train.rec", 96, seed=1), write_colours(root / "val.rec", 48, seed=2)


def _hp(**changes):
    return parse_hyperparameters({**BASE, **{k: str(v) for k, v in changes.items()}})


def _train(colours, tmp_path, **kwargs):
    hp = kwargs.pop("hp", None) or _hp()
    return train(hp, train_rec=colours[0], validation_rec=colours[1], model_dir=tmp_path, **kwargs)


def test_events_reach_handlers_in_order(colours, tmp_path):
    events = []
    result = _train(colours, tmp_path, handlers=[events.append])
    batches = [e for e in events if isinstance(e, BatchEnd)]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert len(batches) == 2 * 6 and batches[0].batches == 6
    assert [b.batch for b in batches[:6]] == list(range(6))
    assert all(b.samples_per_sec > 0 and np.isfinite(b.loss) for b in batches)
    assert [e.epoch for e in epochs] == [0, 1]
    assert epochs[-1].eta == 0 and epochs[0].eta > 0
    assert {"train:accuracy", "validation:accuracy", "train:loss", "validation:loss", "lr"} <= set(epochs[0].metrics)
    assert sum(isinstance(e, Checkpoint) for e in events) == 2
    assert any(isinstance(e, Log) and e.line.startswith("Epoch[1] Validation-accuracy=") for e in events)
    assert result.metrics == {k: v for k, v in result.history[-1].items() if k not in ("epoch", "time")}


@pytest.mark.parametrize("optimizer", ["sgd", "nag", "adam", "rmsprop"])
def test_every_optimizer_learns(colours, tmp_path, optimizer):
    lr = "0.05" if optimizer in ("sgd", "nag") else "0.005"
    result = _train(colours, tmp_path, hp=_hp(optimizer=optimizer, learning_rate=lr, epochs=3))
    assert all(np.isfinite(row["train:loss"]) for row in result.history)
    assert result.history[-1]["train:loss"] < result.history[0]["train:loss"]


def test_learning_rate_steps_by_factor_after_listed_epochs(colours, tmp_path):
    result = _train(colours, tmp_path, hp=_hp(epochs=4, lr_scheduler_step="1,3", lr_scheduler_factor=0.5,
                                              learning_rate=0.04))
    assert [round(row["lr"], 6) for row in result.history] == [0.04, 0.02, 0.02, 0.01]


@pytest.mark.parametrize("augmentation", ["crop", "crop_color", "crop_color_transform"])
def test_augmentation_changes_training_images_only(colours, augmentation):
    plain = _hp(mini_batch_size=8, image_shape="3,28,28")
    augmented = plain.replace(augmentation_type=augmentation)
    idx = colours[0].with_suffix(".idx")

    def first_batch(hp, train):
        return next(iter(data.record_iter(colours[0], idx, hp, batch_size=8, train=train, seed=3))).data[0].asnumpy()

    assert not np.array_equal(first_batch(plain, True), first_batch(augmented, True))
    assert np.array_equal(first_batch(plain, False), first_batch(augmented, False))


def test_best_model_mode_keeps_only_the_best_epoch(colours, tmp_path):
    result = _train(colours, tmp_path, hp=_hp(epochs=3))
    accuracies = [row["validation:accuracy"] for row in result.history]
    best = 1 + accuracies.index(max(accuracies))
    with tarfile.open(result.artifact) as tar:
        params = sorted(n for n in tar.getnames() if n.endswith(".params"))
    assert params == [artifacts.params_name(best)]
    assert result.best_epoch == best


def test_checkpoint_frequency_keeps_every_nth_epoch(colours, tmp_path):
    result = _train(colours, tmp_path, hp=_hp(epochs=4, checkpoint_frequency=2))
    with tarfile.open(result.artifact) as tar:
        params = sorted(n for n in tar.getnames() if n.endswith(".params"))
    assert params == [artifacts.params_name(2), artifacts.params_name(4)]


def test_early_stopping_stops_when_accuracy_stalls(colours, tmp_path):
    # A tolerance of 1.0 asks each epoch to double the best accuracy, which cannot last.
    hp = _hp(epochs=6, early_stopping="true", early_stopping_min_epochs=1, early_stopping_patience=1,
             early_stopping_tolerance=1.0)
    result = _train(colours, tmp_path, hp=hp)
    assert result.stopped_early
    assert len(result.history) == 2
    assert json.loads((tmp_path / "metrics.json").read_text())["stopped_early"] is True


def test_cancel_keeps_the_last_finished_epoch_and_resume_matches_an_uninterrupted_run(colours, tmp_path):
    hp = _hp(epochs=3, augmentation_type="crop_color")
    whole = _train(colours, tmp_path / "whole", hp=hp)

    seen = []

    def stop_in_second_epoch():
        return sum(isinstance(e, EpochEnd) for e in seen) == 1 and sum(isinstance(e, BatchEnd) for e in seen) >= 8

    with pytest.raises(TrainingCancelled):
        _train(colours, tmp_path / "split", hp=hp, handlers=[seen.append], should_stop=stop_in_second_epoch)
    assert json.loads((tmp_path / "split" / "work" / "checkpoints" / "state.json").read_text())["epoch"] == 0
    assert not (tmp_path / "split" / "model.tar.gz").exists()

    resumed = _train(colours, tmp_path / "split", hp=hp)
    assert len(resumed.history) == 3
    for a, b in zip(whole.history, resumed.history):
        for name in ("train:loss", "validation:accuracy", "lr"):
            assert a[name] == pytest.approx(b[name], rel=1e-4, abs=1e-6), (name, a, b)
    first = weights.read_params(sorted((tmp_path / "whole" / "work" / "checkpoints").glob("*.params"))[-1])
    second = weights.read_params(sorted((tmp_path / "split" / "work" / "checkpoints").glob("*.params"))[-1])
    for name in first:
        np.testing.assert_allclose(first[name].asnumpy(), second[name].asnumpy(), rtol=1e-3, atol=1e-5)


def test_incremental_training_refuses_another_architecture(colours, tmp_path):
    base = _train(colours, tmp_path / "base", hp=_hp(epochs=1))
    with pytest.raises(ArtifactError, match="num_classes"):
        _train(colours, tmp_path / "more", hp=_hp(num_classes=4), base_model=base.artifact)
    with pytest.raises(ArtifactError, match="num_layers"):
        _train(colours, tmp_path / "deeper", hp=_hp(num_layers=32), base_model=base.artifact)


def test_incremental_training_refuses_a_damaged_artifact(tmp_path, colours):
    bogus = tmp_path / "model.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        info = tarfile.TarInfo("../evil.json")
        tar.addfile(info)
    with pytest.raises(ArtifactError, match="top level"):
        _train(colours, tmp_path / "out", base_model=bogus)


def _model_zoo_checkpoint(store, num_layers=18, num_classes=1000):
    """An ImageNet-shaped checkpoint as MXNet's model zoo names it, with random weights."""
    symbol = networks.get_symbol(num_classes, num_layers, (3, 224, 224))
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 224, 224))
    rng = np.random.default_rng(0)
    arrays = {f"arg:{n}": mx.nd.array(rng.normal(0, 0.05, s)) for n, s in zip(symbol.list_arguments(), arg_shapes)
              if n not in ("data", "softmax_label")}
    arrays.update({f"aux:{n}": mx.nd.ones(s) for n, s in zip(symbol.list_auxiliary_states(), aux_shapes)})
    store.mkdir(parents=True, exist_ok=True)
    symbol.save(str(store / f"resnet-{num_layers}-symbol.json"))
    mx.nd.save(str(store / f"resnet-{num_layers}-0000.params"), arrays)
    return {k.split(":")[1]: v for k, v in arrays.items()}


def test_transfer_learning_starts_from_model_zoo_weights_with_a_new_fc1(tmp_path):
    train_rec = write_colours(tmp_path / "train.rec", 8, size=224)
    val_rec = write_colours(tmp_path / "val.rec", 4, size=224)
    zoo = _model_zoo_checkpoint(tmp_path / "store")
    hp = parse_hyperparameters({**BASE, "num_layers": "18", "image_shape": "3,224,224", "epochs": "1",
                                "mini_batch_size": "4", "num_training_samples": "8", "use_pretrained_model": "1",
                                "learning_rate": "0"})
    result = train(hp, train_rec=train_rec, validation_rec=val_rec, model_dir=tmp_path / "out",
                   model_store=tmp_path / "store")
    model = artifacts.read_artifact(result.artifact, tmp_path / "unpacked")
    trained = weights.read_params(model.params)
    # learning_rate 0: every learnt weight is the checkpoint's, except the new 3-class classifier.
    for name in ("conv0_weight", "stage4_unit2_conv2_weight", "bn1_gamma"):
        np.testing.assert_array_equal(trained[name].asnumpy(), zoo[name].asnumpy())
    assert trained["fc1_weight"].shape == (3, 512)


def test_transfer_learning_names_the_missing_weights(colours, tmp_path):
    hp = parse_hyperparameters({**BASE, "num_layers": "18", "image_shape": "3,224,224", "use_pretrained_model": "1"})
    with pytest.raises(PretrainedWeightsMissing, match="resnet-18-symbol.json"):
        _train(colours, tmp_path, hp=hp, model_store=tmp_path / "empty")


def test_multi_label_with_weighted_loss_learns_and_predicts_sigmoids(tmp_path):
    train_rec = write_blobs(tmp_path / "train.rec", 120, seed=1)
    val_rec = write_blobs(tmp_path / "val.rec", 48, seed=2)
    hp = parse_hyperparameters({**BASE, "multi_label": "1", "use_weighted_loss": "1", "epochs": "4",
                                "num_training_samples": "120"})
    result = train(hp, train_rec=train_rec, validation_rec=val_rec, model_dir=tmp_path / "out")
    assert result.metrics["validation:accuracy"] > 0.8
    predictor = Predictor(result.artifact)
    assert predictor.multi_label
    probabilities = predictor.predict([_rec_image(val_rec, key) for key in range(8)])
    assert probabilities.shape == (8, 3)
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # independent sigmoids, not a softmax
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def _rec_image(rec_path, key):
    record = mx.recordio.MXIndexedRecordIO(str(rec_path.with_suffix(".idx")), str(rec_path), "r")
    _, image = mx.recordio.unpack(record.read_idx(key))
    return image


def test_float16_falls_back_to_float32_on_the_cpu(colours, tmp_path):
    events = []
    result = _train(colours, tmp_path, hp=_hp(epochs=1, precision_dtype="float16"), handlers=[events.append])
    assert any(isinstance(e, Log) and "float16 needs a GPU" in e.line for e in events)
    assert np.isfinite(result.metrics["train:loss"])


def test_images_smaller_than_the_network_input_are_refused(tmp_path):
    small = write_colours(tmp_path / "small.rec", 8, size=20)
    with pytest.raises(ClassifierError, match="at least 32x32"):
        train(_hp(), train_rec=small, validation_rec=small, model_dir=tmp_path / "out")
    # With resize, the reader scales them up to the shorter side first, as SageMaker does.
    result = train(_hp(epochs=1, resize=32, num_training_samples=8), train_rec=small, validation_rec=small,
                   model_dir=tmp_path / "resized", resize=32)
    assert np.isfinite(result.metrics["train:loss"])


def test_weighted_loss_weights_each_class_by_negatives_over_positives(tmp_path):
    rec = write_blobs(tmp_path / "train.rec", 40, seed=1)
    labels = data.label_matrix(rec, rec.with_suffix(".idx"), 3, multi_label=True)
    hp = parse_hyperparameters({**BASE, "multi_label": "1", "use_weighted_loss": "1", "num_training_samples": "40"})
    from classifier.training import _positive_weights

    (weights_,) = _positive_weights(hp, rec, rec.with_suffix(".idx"), [mx.cpu()])
    positives = labels.sum(axis=0)
    np.testing.assert_allclose(weights_.asnumpy()[0], (40 - positives) / positives, rtol=1e-6)
    assert weights_.asnumpy()[0][0] < 1  # class 0 is in most images, so its positives weigh less


def test_data_parallel_over_several_devices_learns_as_one_device_does(colours, tmp_path):
    """The multi-GPU path (one replica per device, the batch split between them, gradients summed by
    the device kvstore), run on two CPU contexts since this machine has no GPU."""
    hp = _hp(epochs=3)
    one = _train(colours, tmp_path / "one", hp=hp, contexts=[mx.cpu(0)])
    two = _train(colours, tmp_path / "two", hp=hp, contexts=[mx.cpu(0), mx.cpu(1)])
    assert two.metrics["validation:accuracy"] >= 0.9
    assert abs(two.metrics["validation:accuracy"] - one.metrics["validation:accuracy"]) <= 0.1
    # The same number of updates: the devices share each batch rather than taking one each.
    assert two.history[-1]["train:loss"] < two.history[0]["train:loss"]
    assert Predictor(two.artifact).predict([]).shape == (0, 3)
