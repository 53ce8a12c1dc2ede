"""The Tune form's defaults, bound as the page posts them: valid as shipped with each strategy; with Hyperband
the early-stopping box (ticked by default) is dropped, since SageMaker requires it Off and Hyperband stops
trials itself."""
from __future__ import annotations

import pytest

from webapp.tuning.forms import TuningForm
from webapp.tuning.models import TuningJob


def _posted(strategy: str) -> TuningForm:
    shown = TuningForm(train=96, version_number=1, static={"epochs": "4", "num_layers": "20"})
    data = {}
    for name, field in shown.fields.items():
        value = shown.get_initial_for_field(field, name)
        if value is True:
            data[name] = "on"
        elif value not in (None, False):
            data[name] = value
    data.update(name="first-tune", strategy=strategy)
    return TuningForm(data, train=96, version_number=1, static={"epochs": "4", "num_layers": "20"})


@pytest.mark.parametrize("strategy", [s for s in TuningJob.Strategy.values if s != TuningJob.Strategy.GRID])
def test_the_forms_defaults_are_valid_and_hyperband_drops_early_stopping(strategy):
    form = _posted(strategy)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["early_stopping"] is (strategy != TuningJob.Strategy.HYPERBAND)
