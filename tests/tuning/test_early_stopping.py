"""Early stopping in a real tuning job: trials trained by a real Celery worker on a real version, the third judged
after each epoch against the two finished ones, stopped once it falls behind, and the tuning job completed with
the best of the finished trials as its best."""
from __future__ import annotations

import time

import pytest

from tests.support.api import colour_version

pytestmark = pytest.mark.django_db(transaction=True)
POOR, GOOD = "0.00001", ("0.05", "0.08")
STATIC = {"num_layers": "20", "image_shape": "3,32,32", "epochs": "4", "mini_batch_size": "8", "optimizer": "sgd"}


def _next_tuning_id(owner) -> int:
    from webapp.tuning.models import TuningJob

    probe = TuningJob.objects.create(owner=owner, name="probe", ranges={}, max_jobs=1, max_parallel=1)
    taken = probe.id
    probe.delete()
    return taken + 1


def _values_with_the_poor_rate_taken_third(tuning_id: int) -> list[str]:
    """The Grid's order is the search's own, seeded by the tuning job: ask the same search which of three points
    it gives the third trial, and put the poor learning rate there, so the two finished trials are good ones."""
    from webapp.tuning import search

    placeholders = {"CategoricalParameterRanges": [{"Name": "learning_rate", "Values": ["1", "2", "3"]}]}
    past: list[search.Past] = []
    for number in range(3):
        study = search.Search(tuning_id=tuning_id, strategy="Grid", ranges=placeholders, max_epochs=4, past=past)
        past.append(search.Past(number, study.ask(), {}, "running"))
    order = [int(p.tuned["learning_rate"]) - 1 for p in past]
    values = [""] * 3
    values[order[2]] = POOR
    values[order[0]], values[order[1]] = GOOD
    return values


def test_a_trial_that_falls_behind_is_stopped_early(api, alice, worker, channel_layer_redis):
    from webapp.tuning.models import TuningJob
    from webapp.tuning.services import tuning_create

    version = colour_version(api, classes=("red", "green", "blue"), per_class=32)
    from webapp.datasets.models import DatasetVersion

    tuning_id = _next_tuning_id(alice)
    values = _values_with_the_poor_rate_taken_third(tuning_id)
    tuning = tuning_create(owner=alice, name="early", strategy="Grid", version=DatasetVersion.objects.get(id=version),
                           ranges={"CategoricalParameterRanges": [{"Name": "learning_rate", "Values": values}]},
                           static_hyperparameters=STATIC, max_jobs=3, max_parallel=1, early_stopping=True)
    assert tuning.id == tuning_id
    deadline = time.monotonic() + 600
    while not tuning.finished_state:
        assert time.monotonic() < deadline, list(tuning.trials.values("number", "tuned", "job__state"))
        time.sleep(1)
        tuning.refresh_from_db()
    trials = list(tuning.trials.select_related("job").order_by("number"))
    assert tuning.status == TuningJob.Status.COMPLETED, tuning.reason
    assert [t.tuned["learning_rate"] for t in trials] == [*GOOD, POOR]
    first, second, poor = trials
    assert not first.early_stopped and not second.early_stopped and first.objective and second.objective
    assert poor.early_stopped and poor.job.state == "cancelled" and poor.objective is None
    assert "stopped early by tuning job early" in poor.job.reason
    assert poor.job.epoch + 1 < 4  # it did not train to the end
    assert tuning.best_job_id == max((first, second), key=lambda t: t.objective).job_id
