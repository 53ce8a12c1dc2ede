"""The search of a tuning job as Optuna does it, rebuilt from trial rows: the median rule stops a trial that falls
behind the finished ones and spares one that keeps up, a Grid never takes a point twice across rebuilds, and
SageMaker's scaling types come back as the strings a training job takes; Hyperband stops at its rungs."""
from __future__ import annotations

import math

import pytest

from webapp.core.errors import ServiceError
from webapp.tuning import search

LR = {"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.5",
                                     "ScalingType": "Logarithmic"}]}


def _done(number: int, curve: list[float], lr: str = "0.05") -> search.Past:
    return search.Past(number, {"learning_rate": lr}, dict(enumerate(curve)), "complete", curve[-1])


def test_the_median_rule_stops_a_trial_behind_the_finished_ones_and_spares_one_ahead():
    past = [_done(0, [0.5, 0.8, 0.9]), _done(1, [0.6, 0.85, 0.95])]
    behind = search.Past(2, {"learning_rate": "0.001"}, {0: 0.33, 1: 0.34}, "running")
    ahead = search.Past(2, {"learning_rate": "0.1"}, {0: 0.7, 1: 0.9}, "running")
    for row, stopped in ((behind, True), (ahead, False)):
        study = search.Search(tuning_id=7, strategy="Bayesian", ranges=LR, max_epochs=3, past=[*past, row], current=2)
        assert study.should_prune(row, 1) is stopped


def test_no_trial_is_judged_before_two_have_finished():
    first = search.Past(1, {"learning_rate": "0.001"}, {0: 0.1}, "running")
    study = search.Search(tuning_id=7, strategy="Bayesian", ranges=LR, max_epochs=3,
                          past=[_done(0, [0.9]), first], current=1)
    assert study.should_prune(first, 0) is False


def test_a_grid_takes_each_point_once_however_often_it_is_rebuilt():
    ranges = {"CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam", "nag"]}],
              "IntegerParameterRanges": [{"Name": "mini_batch_size", "MinValue": "8", "MaxValue": "9"}]}
    past: list[search.Past] = []
    for number in range(6):
        study = search.Search(tuning_id=3, strategy="Grid", ranges=ranges, max_epochs=2, past=past)
        assert not study.exhausted()
        past.append(search.Past(number, study.ask(), {}, "running"))
    assert len({tuple(sorted(p.tuned.items())) for p in past}) == 6 == search.grid_size(ranges)
    assert search.Search(tuning_id=3, strategy="Grid", ranges=ranges, max_epochs=2, past=past).exhausted()


def test_scaling_types_come_back_within_their_ranges_as_strings():
    ranges = {"ContinuousParameterRanges": [
        {"Name": "momentum", "MinValue": "0.9", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
        {"Name": "learning_rate", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Auto"}],
        "IntegerParameterRanges": [{"Name": "mini_batch_size", "MinValue": "8", "MaxValue": "64",
                                    "ScalingType": "Logarithmic"}]}
    params = {p.name: p for p in search.params_of(ranges)}
    assert params["learning_rate"].distribution.log  # Auto: three decades, so logarithmic
    past = []
    for number in range(12):
        tuned = search.Search(tuning_id=5, strategy="Random", ranges=ranges, max_epochs=2, past=past).ask()
        assert 0.9 <= float(tuned["momentum"]) <= 0.999 and 0.0001 <= float(tuned["learning_rate"]) <= 0.1
        assert tuned["mini_batch_size"].isdigit() and 8 <= int(tuned["mini_batch_size"]) <= 64
        assert math.isfinite(float(tuned["momentum"]))
        past.append(search.Past(number, tuned, {}, "running"))


@pytest.mark.parametrize("ranges, words", [
    ({"ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.5", "MaxValue": "0.1"}]},
     "must not be greater"),
    ({"ContinuousParameterRanges": [{"Name": "momentum", "MinValue": "0.5", "MaxValue": "1.5",
                                     "ScalingType": "ReverseLogarithmic"}]}, "0 <= x < 1.0"),
    ({"IntegerParameterRanges": [{"Name": "mini_batch_size", "MinValue": "0", "MaxValue": "8",
                                  "ScalingType": "Logarithmic"}]}, "greater than 0"),
    ({}, "names no hyperparameter"),
])
def test_malformed_ranges_are_refused_in_plain_words(ranges, words):
    with pytest.raises(ServiceError, match=words):
        search.params_of(ranges)


def test_hyperband_stops_a_trial_far_behind_at_a_rung_and_never_one_ahead():
    """SageMaker's Hyperband (Optuna's HyperbandPruner over MinResource..MaxResource epochs, its brackets
    halving at 1, 3 and 9): a trial far behind twelve finished ones is stopped at a rung, the same epoch
    whether its study is rebuilt from the rows at each epoch (as the training worker asks) or kept; one
    ahead of them all runs every epoch."""
    hyperband = {"MinResource": 1, "MaxResource": 9}
    past = [_done(number, [0.3 + 0.07 * epoch for epoch in range(9)]) for number in range(12)]

    def stopped_at(number: int, level: float, *, rebuilt: bool) -> int | None:
        row = search.Past(number, {"learning_rate": "0.001"}, {epoch: level for epoch in range(9)}, "running")

        def study():
            return search.Search(tuning_id=4, strategy="Hyperband", ranges=LR, max_epochs=9, past=[*past, row],
                                 hyperband=hyperband, current=number)

        kept = study()
        return next((epoch for epoch in range(9) if (study() if rebuilt else kept).should_prune(row, epoch)), None)

    for number in (12, 13, 14):
        behind = stopped_at(number, 0.1, rebuilt=True)
        assert behind in (1, 3), behind  # a rung, well before the ninth epoch
        assert stopped_at(number, 0.1, rebuilt=False) == behind
        assert stopped_at(number, 0.99, rebuilt=True) is None
