"""SageMaker's hyperparameter schema: strings in, typed values out, every problem reported at once."""
from __future__ import annotations

import dataclasses

import pytest

from classifier.errors import HyperparameterError
from classifier.hyperparameters import (
    SCHEMA, Hyperparameters, architecture_mismatch, epoch_size, log_parameters, parse_hyperparameters,
)

REQUIRED = {"num_classes": "10", "num_training_samples": "1000"}


def _problems(**raw) -> dict[str, str]:
    with pytest.raises(HyperparameterError) as error:
        parse_hyperparameters({**REQUIRED, **raw})
    return error.value.problems


def test_defaults_are_the_spec_s():
    hp = parse_hyperparameters(REQUIRED)
    assert (hp.epochs, hp.learning_rate, hp.mini_batch_size, hp.num_layers, hp.image_shape) == (30, 0.1, 32, 152, (3, 224, 224))
    assert (hp.momentum, hp.weight_decay, hp.optimizer, hp.precision_dtype) == (0.9, 0.0001, "sgd", "float32")
    assert (hp.beta_1, hp.beta_2, hp.eps, hp.gamma) == (0.9, 0.999, 1e-8, 0.9)
    assert (hp.early_stopping, hp.early_stopping_min_epochs, hp.early_stopping_patience) == (False, 10, 5)
    assert hp.lr_scheduler_step == () and hp.augmentation_type is None and hp.effective_kv_store == "device"


def test_strings_and_json_values_parse_alike():
    as_strings = parse_hyperparameters({**REQUIRED, "learning_rate": "0.01", "eps": "1e-6", "epochs": "10.0",
                                        "multi_label": "1", "early_stopping": "TRUE", "image_shape": "3, 32, 32",
                                        "lr_scheduler_step": "10, 20", "num_layers": "20"})
    as_json = parse_hyperparameters({"num_classes": 10, "num_training_samples": 1000, "learning_rate": 0.01,
                                     "eps": 1e-6, "epochs": 10, "multi_label": 1, "early_stopping": True,
                                     "image_shape": "3,32,32", "lr_scheduler_step": "10,20", "num_layers": 20})
    assert as_strings == as_json
    assert as_strings.lr_scheduler_step == (10, 20) and as_strings.image_shape == (3, 32, 32)
    assert as_strings.early_stopping is True and as_strings.multi_label is True


def test_every_problem_is_reported_together():
    problems = _problems(augmentation_type="crop_color_transformation", learning_rate="2", epochs="ten",
                         num_layers="19", image_shape="3,224", **{"augmentation type": "crop"})
    assert set(problems) == {"", "augmentation_type", "learning_rate", "epochs", "num_layers", "image_shape"}
    assert problems["augmentation_type"] == (
        "The value 'crop_color_transformation' is not valid for the 'augmentation_type' hyperparameter which "
        "accepts one of the following: 'crop', 'crop_color', 'crop_color_transform'")
    assert problems[""] == "Additional hyperparameters are not allowed ('augmentation type' was unexpected)"
    assert "between 0 and 1" in problems["learning_rate"]
    with pytest.raises(HyperparameterError, match="num_classes: is required"):
        parse_hyperparameters({})


@pytest.mark.parametrize("raw, name, fragment", [
    ({"checkpoint_frequency": "40"}, "checkpoint_frequency", "at most epochs (30)"),
    ({"top_k": "11"}, "top_k", "at most num_classes"),
    ({"top_k": "1"}, "top_k", "at least 2"),
    ({"use_pretrained_model": "1", "num_layers": "20"}, "num_layers", "transfer learning"),
    ({"use_pretrained_model": "1", "image_shape": "3,128,128"}, "image_shape", "3,224,224"),
    ({"resize": "200"}, "resize", "at least the larger side"),
    ({"lr_scheduler_step": "20,10"}, "lr_scheduler_step", "must increase"),
    ({"lr_scheduler_step": "10,x"}, "lr_scheduler_step", "positive epochs"),
    ({"early_stopping": "yes"}, "early_stopping", "True or False"),
    ({"multi_label": "2"}, "multi_label", "0 or 1"),
    ({"image_shape": "4,32,32"}, "image_shape", "1 or 3 channels"),
    ({"mini_batch_size": "0"}, "mini_batch_size", "at least 1"),
    ({"epochs": "2.5"}, "epochs", "integer"),
])
def test_rules(raw, name, fragment):
    assert fragment in _problems(**raw)[name]


def test_image_input_requires_resize():
    with pytest.raises(HyperparameterError, match="resize: is required for image"):
        parse_hyperparameters(REQUIRED, input_mode="image")
    assert parse_hyperparameters({**REQUIRED, "resize": "256"}, input_mode="image").resize == 256


def test_accepted_and_ignored():
    hp = parse_hyperparameters({**REQUIRED, "model_prefix": "", "use_weighted_loss": "1", "kv_store": "dist_sync"})
    assert hp.use_weighted_loss and hp.kv_store == "dist_sync"


def test_sagemaker_strings_round_trip_and_replace_revalidates():
    hp = parse_hyperparameters({**REQUIRED, "augmentation_type": "crop", "lr_scheduler_step": "5,8", "top_k": "3"})
    assert all(isinstance(v, str) for v in hp.to_sagemaker().values())
    assert parse_hyperparameters(hp.to_sagemaker()) == hp
    assert hp.replace(epochs=3).epochs == 3
    with pytest.raises(HyperparameterError):
        hp.replace(learning_rate=5)


def test_schema_describes_every_field():
    assert set(SCHEMA) - {"model_prefix"} == {f.name for f in dataclasses.fields(Hyperparameters)}
    assert SCHEMA["num_classes"].required and SCHEMA["optimizer"].choices == ("sgd", "adam", "rmsprop", "nag")
    assert all(spec.help for spec in SCHEMA.values())


def test_architecture_mismatch_names_what_differs():
    model = {"num_layers": "18", "image_shape": "3,224,224", "num_classes": "5"}
    job = parse_hyperparameters({**REQUIRED, "num_layers": "34"})
    assert architecture_mismatch(model, job) == ["num_layers: model has 18, job asks for 34", "num_classes: model has 5, job asks for 10"]
    assert architecture_mismatch(job, job) == []


def test_epoch_size_and_parameter_log():
    hp = parse_hyperparameters({**REQUIRED, "mini_batch_size": "64"})
    assert epoch_size(hp) == 16 and epoch_size(hp, num_workers=2) == 8
    lines = log_parameters(hp)
    assert "---- Parameters ----" in lines and "checkpoint_frequency not set, will store the best model" in lines
