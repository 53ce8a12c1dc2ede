"""The Tune form: AWS's recommended ranges for this algorithm (spec section 1.3), each one switched on or off,
edited and given a scaling; the search's strategy and size; and the hyperparameters every trial shares,
those of the training form's default preset fitted to the version.

What the form says wrong is said beside the field, in plain words, before the tuning engine is asked; what
the engine refuses comes back to the field it names (``field_for``)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django import forms

from classifier.hyperparameters import SCHEMA
from webapp.tuning.models import TuningJob

NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")  # SageMaker's HyperParameterTuningJobName rule
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
KIND_KEYS = {"continuous": "ContinuousParameterRanges", "integer": "IntegerParameterRanges",
             "categorical": "CategoricalParameterRanges"}


@dataclass(frozen=True)
class Recommended:
    """One of AWS's recommended ranges, and whether the form starts with it switched on."""

    name: str
    kind: str  # continuous | integer | categorical
    low: str = ""
    high: str = ""
    scaling: str = "Auto"
    values: tuple[str, ...] = ()
    on: bool = False
    note: str = ""


# AWS names mini_batch_size, learning_rate and optimizer the most influential, and advises tuning an
# optimizer's own settings only for the optimizer that reads them: those three start switched on.
RECOMMENDED = (
    Recommended("learning_rate", "continuous", "1e-6", "0.5", "Logarithmic", on=True,
                note="the most influential, with the batch size and the optimizer"),
    Recommended("mini_batch_size", "integer", "8", "512", "Auto", on=True,
                note="at most the version's training images"),
    Recommended("optimizer", "categorical", values=("sgd", "adam", "rmsprop", "nag"), on=True),
    Recommended("momentum", "continuous", "0.0", "0.999", note="read by sgd and nag"),
    Recommended("weight_decay", "continuous", "0.0", "0.999"),
    Recommended("beta_1", "continuous", "1e-6", "0.999", note="read by adam"),
    Recommended("beta_2", "continuous", "1e-6", "0.999", note="read by adam"),
    Recommended("eps", "continuous", "1e-8", "1.0", note="read by adam and rmsprop"),
    Recommended("gamma", "continuous", "1e-8", "0.999", note="read by rmsprop"),
)
BY_NAME = {r.name: r for r in RECOMMENDED}
DEFAULT_MAX_JOBS, DEFAULT_MAX_PARALLEL = 6, 2


def fitted(recommended: Recommended, *, train: int) -> Recommended:
    """The recommended range as this version can take it: a batch holds at most its training images."""
    if recommended.name != "mini_batch_size" or not train:
        return recommended
    high = min(int(recommended.high), train)
    low = min(int(recommended.low), high)
    return Recommended(**{**recommended.__dict__, "low": str(low), "high": str(high), "on": low < high})


def recommended_ranges(*, train: int) -> dict:
    """The switched-on recommended ranges in SageMaker's ParameterRanges shape (the API's default)."""
    ranges = {key: [] for key in KIND_KEYS.values()}
    for recommended in (fitted(r, train=train) for r in RECOMMENDED):
        if recommended.on:
            ranges[KIND_KEYS[recommended.kind]].append(_entry(recommended.name, recommended.kind, recommended.low,
                                                              recommended.high, recommended.scaling,
                                                              list(recommended.values)))
    return ranges


def _entry(name, kind, low, high, scaling, values) -> dict:
    if kind == "categorical":
        return {"Name": name, "Values": values}
    return {"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": scaling}


def default_name(*, version, taken) -> str:
    """``<dataset>-v<n>-tune-<k>``, at most 32 characters, the first ``k`` not in ``taken``."""
    stem = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9]+", "-", version.dataset.name)).strip("-") or "tuning"
    for k in range(1, 10_000):
        tail = f"-v{version.number}-tune-{k}"
        name = stem[:32 - len(tail)].rstrip("-") + tail
        if name not in taken:
            return name
    return f"tune-{version.id}"[:32]


class TuningForm(forms.Form):
    name = forms.CharField(max_length=32, help_text="letters, digits and hyphens, at most 32: the SageMaker "
                                                    "HyperParameterTuningJobName")
    strategy = forms.ChoiceField(choices=TuningJob.Strategy.choices, initial=TuningJob.Strategy.BAYESIAN,
                                 help_text="Bayesian learns from the trials so far; Grid takes categorical ranges "
                                           "only; Hyperband stops weak trials on its own")
    max_jobs = forms.IntegerField(min_value=1, max_value=500, initial=DEFAULT_MAX_JOBS, label="Trials",
                                  help_text="training jobs in all")
    max_parallel = forms.IntegerField(min_value=1, max_value=100, initial=DEFAULT_MAX_PARALLEL,
                                      label="At a time", help_text="trials training at once, spread over the workers")
    early_stopping = forms.BooleanField(required=False, initial=True, label="Stop trials that fall behind",
                                        help_text="SageMaker's TrainingJobEarlyStoppingType Auto; Hyperband "
                                                  "does this on its own")

    def __init__(self, *args, train: int, version_number: int, static: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.train, self.version_number = train, version_number
        self.recommended = [fitted(r, train=train) for r in RECOMMENDED]
        for r in self.recommended:
            self.fields[f"range_{r.name}_on"] = forms.BooleanField(required=False, initial=r.on, label=r.name)
            if r.kind == "categorical":
                self.fields[f"range_{r.name}_values"] = forms.MultipleChoiceField(
                    required=False, choices=[(v, v) for v in r.values], initial=list(r.values),
                    widget=forms.CheckboxSelectMultiple)
                continue
            self.fields[f"range_{r.name}_min"] = forms.CharField(required=False, initial=r.low, label="from")
            self.fields[f"range_{r.name}_max"] = forms.CharField(required=False, initial=r.high, label="to")
            scalings = SCALINGS if r.kind == "continuous" else SCALINGS[:3]
            self.fields[f"range_{r.name}_scaling"] = forms.ChoiceField(choices=[(s, s) for s in scalings],
                                                                       initial=r.scaling, label="scale")
        self.static_names = list(static)
        for name, value in static.items():
            self.fields[f"static_{name}"] = forms.CharField(required=False, initial=value, label=name,
                                                            help_text=SCHEMA[name].help if name in SCHEMA else "")

    # Reading back --------------------------------------------------------------------------------------

    def is_on(self, name: str) -> bool:
        return bool(self.cleaned_data.get(f"range_{name}_on"))

    def ranges(self) -> dict:
        """The switched-on ranges in SageMaker's ParameterRanges shape, every value a string."""
        ranges = {key: [] for key in KIND_KEYS.values()}
        for r in self.recommended:
            if self.is_on(r.name):
                data = self.cleaned_data
                ranges[KIND_KEYS[r.kind]].append(_entry(
                    r.name, r.kind, data.get(f"range_{r.name}_min"), data.get(f"range_{r.name}_max"),
                    data.get(f"range_{r.name}_scaling"), [v for v in r.values if v in data.get(f"range_{r.name}_values", [])]))
        return ranges

    def static_hyperparameters(self) -> dict[str, str]:
        """The shared values, without those a switched-on range tunes (the range wins)."""
        tuned = {r.name for r in self.recommended if self.is_on(r.name)}
        return {name: value for name in self.static_names
                if name not in tuned and (value := (self.cleaned_data.get(f"static_{name}") or "").strip())}

    def field_for(self, name: str | None) -> str | None:
        """The form field showing a problem with ``name`` (a field, a hyperparameter, a SageMaker input)."""
        aliases = {"MaxNumberOfTrainingJobs": "max_jobs", "MaxParallelTrainingJobs": "max_parallel",
                   "Strategy": "strategy", "HyperParameterTuningJobName": "name",
                   "TrainingJobEarlyStoppingType": "early_stopping"}
        name = aliases.get(name, name)
        if not name:
            return None
        for candidate in (name, f"range_{name}_min", f"range_{name}_values", f"static_{name}"):
            if candidate in self.fields:
                if candidate.startswith("static_") and name in BY_NAME and self.is_on(name):
                    continue
                return candidate
        return None

    # Checks ----------------------------------------------------------------------------------------------

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not NAME.match(name):
            raise forms.ValidationError("use letters, digits and single hyphens (not at the start or end), "
                                        "at most 32 characters")
        return name

    def clean(self):
        data = super().clean()
        if data.get("strategy") == TuningJob.Strategy.HYPERBAND:
            data["early_stopping"] = False  # Hyperband stops trials itself (SageMaker requires Off with it)
        jobs, parallel = data.get("max_jobs"), data.get("max_parallel")
        if jobs and parallel and parallel > jobs:
            self.add_error("max_parallel", f"at most the number of trials ({jobs}): {parallel} at a time would "
                                           f"leave {parallel - jobs} idle")
        on = [r for r in self.recommended if data.get(f"range_{r.name}_on")]
        if not on:
            self.add_error(None, "switch on at least one range: a tuning job searches over something")
        for r in on:
            if r.kind == "categorical":
                if not data.get(f"range_{r.name}_values"):
                    self.add_error(f"range_{r.name}_values", f"tick at least one {r.name}, or switch the range off")
            else:
                self._check_bounds(r, data)
        return data

    def _check_bounds(self, r: Recommended, data: dict) -> None:
        low_key, high_key = f"range_{r.name}_min", f"range_{r.name}_max"
        low, high = (self._number(r, data.get(key), key) for key in (low_key, high_key))
        if low is None or high is None:
            return
        spec = SCHEMA.get(r.name)
        for key, value in ((low_key, low), (high_key, high)):
            if spec and spec.minimum is not None and value < spec.minimum:
                self.add_error(key, f"{r.name} is at least {spec.minimum:g}")
            elif spec and spec.maximum is not None and value > spec.maximum:
                self.add_error(key, f"{r.name} is at most {spec.maximum:g}")
        if low >= high:
            self.add_error(high_key, f"must be more than {data.get(low_key)}, where the range starts")
        if r.name == "mini_batch_size" and self.train and high > self.train:
            self.add_error(high_key, f"at most the {self.train} training images of version {self.version_number}")
        scaling = data.get(f"range_{r.name}_scaling")
        if scaling == "Logarithmic" and low <= 0:
            self.add_error(low_key, "a logarithmic scale starts above 0: start at e.g. 1e-6, or choose Linear")
        if scaling == "ReverseLogarithmic" and not (0 <= low and high < 1):
            self.add_error(f"range_{r.name}_scaling", "a reverse logarithmic scale needs the whole range in [0, 1)")

    def _number(self, r: Recommended, text: str | None, key: str) -> float | None:
        text = (text or "").strip()
        try:
            value = int(text) if r.kind == "integer" else float(text)
        except ValueError:
            whole = "a whole number" if r.kind == "integer" else "a number"
            self.add_error(key, f"{whole} is needed here, not “{text}”" if text else f"{whole} is needed here")
            return None
        if not math.isfinite(value):
            self.add_error(key, "a finite number is needed here")
            return None
        return value

    # For the template ---------------------------------------------------------------------------------

    def range_rows(self) -> list[dict]:
        """One row a recommended range: its switch, its inputs and every error about it."""
        rows = []
        for r in self.recommended:
            keys = [k for k in (f"range_{r.name}_on", f"range_{r.name}_min", f"range_{r.name}_max",
                                f"range_{r.name}_scaling", f"range_{r.name}_values") if k in self.fields]
            bound = {k.rsplit("_", 1)[1]: self[k] for k in keys}
            rows.append({"name": r.name, "kind": r.kind, "note": r.note, "recommended": r, **bound,
                         "errors": [e for k in keys for e in self[k].errors]})
        return rows

    def search_fields(self) -> list:
        return [self[name] for name in ("name", "strategy", "max_jobs", "max_parallel", "early_stopping")]

    def static_fields(self) -> list:
        return [self[f"static_{name}"] for name in self.static_names]
