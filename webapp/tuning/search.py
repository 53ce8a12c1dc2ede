"""The search of a tuning job, done by Optuna: its ranges as Optuna's distributions, SageMaker's strategies as
Optuna's samplers and pruners, and the study rebuilt from the tuning job's Trial rows.

Why rebuilt rather than kept in Optuna's RDB storage: the Trial rows and the trials' per-epoch JobEvent rows
already hold everything a study holds (each trial's parameters, its per-epoch validation accuracy, its end),
and they are what the pages and the API read; a second copy in Optuna's own tables (made outside Django's
migrations) could disagree with them. A study rebuilt in memory each time the scheduler or a pruning check
runs is a few dozen trials, cheap, and is the same study whichever machine rebuilds it. The samplers' seeds
are derived from the tuning job and its number of trials, so the same rows give the same next trial.

Pruners keep state in their trials' system attributes (Hyperband's rungs): the rebuild replays each
trial's epochs through the pruner in trial order, so that state is made again as a live study made it."""
from __future__ import annotations

import math
from dataclasses import dataclass

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from webapp.core.errors import ServiceError

optuna.logging.set_verbosity(optuna.logging.WARNING)
RANGE_KINDS = ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")
SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
# Auto scales a range logarithmically when it spans this many orders of magnitude and starts above 0, as
# learning rates and weight decays do; else linearly.
AUTO_LOG_DECADES = 2
# The median rule compares a trial with the finished ones only once this many have finished, and from its
# second epoch on: after one epoch most trials are still near chance, and stopping one there stops good ones
# (measured: benchmarks/tuning.py stopped a trial that went on to 1.000 after its first epoch).
MEDIAN_STARTUP_TRIALS = 2
MEDIAN_WARMUP_EPOCHS = 1


@dataclass(frozen=True)
class Param:
    """One tuned hyperparameter: its Optuna distribution, and whether Optuna searches 1 - x (ReverseLogarithmic)."""
    name: str
    distribution: object
    reverse: bool = False

    def value_of(self, sampled) -> str:
        """The hyperparameter's string, as a training job takes it, from what Optuna sampled."""
        if self.reverse:
            sampled = 1.0 - sampled
        if isinstance(self.distribution, FloatDistribution):
            return repr(float(sampled))
        return str(sampled)

    def sampled_of(self, value: str):
        """What Optuna sampled, back from the hyperparameter's string (a Trial row's ``tuned``)."""
        distribution = self.distribution
        if isinstance(distribution, CategoricalDistribution):
            return value
        if isinstance(distribution, IntDistribution):
            return int(float(value))
        sampled = 1.0 - float(value) if self.reverse else float(value)
        return min(max(sampled, distribution.low), distribution.high)  # 1 - (1 - y) may differ from y by an ulp


def _number(text, what: str, kind=float):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ServiceError(f"{what} must be a number, not {text!r}", "ranges") from None
    if not math.isfinite(value) or kind is int and not value.is_integer():
        raise ServiceError(f"{what} must be {'an integer' if kind is int else 'a finite number'}, not {text!r}",
                           "ranges")
    return int(value) if kind is int else value


def _scaled(entry: dict, kind: str) -> Param:
    name = entry.get("Name")
    integer = kind == "IntegerParameterRanges"
    number = int if integer else float
    low = _number(entry.get("MinValue"), f"MinValue of {name}", number)
    high = _number(entry.get("MaxValue"), f"MaxValue of {name}", number)
    if low > high:
        raise ServiceError(f"The MinValue ({entry.get('MinValue')}) of {name} must not be greater than its "
                           f"MaxValue ({entry.get('MaxValue')})", "ranges")
    scaling = entry.get("ScalingType") or "Auto"
    if scaling not in SCALING_TYPES:
        raise ServiceError(f"ScalingType {scaling} of {name} is not one of {', '.join(SCALING_TYPES)}", "ranges")
    if scaling == "Auto":
        scaling = "Logarithmic" if low > 0 and high / low >= 10 ** AUTO_LOG_DECADES else "Linear"
    if scaling == "Logarithmic" and low <= 0:
        raise ServiceError(f"Logarithmic scaling of {name} needs a MinValue greater than 0, not "
                           f"{entry.get('MinValue')}", "ranges")
    if scaling == "ReverseLogarithmic":
        if integer:
            raise ServiceError(f"ReverseLogarithmic scaling is supported only for continuous parameter ranges, "
                               f"not the integer range of {name}", "ranges")
        if not (0 <= low and high < 1):
            raise ServiceError(f"ReverseLogarithmic scaling of {name} works only for ranges entirely within "
                               f"0 <= x < 1.0, not [{entry.get('MinValue')}, {entry.get('MaxValue')}]", "ranges")
        return Param(name, FloatDistribution(1.0 - high, 1.0 - low, log=True), reverse=True)
    log = scaling == "Logarithmic"
    if integer:
        return Param(name, IntDistribution(low, high, log=log))
    return Param(name, FloatDistribution(low, high, log=log))


def params_of(ranges: dict) -> list[Param]:
    """Each range of SageMaker's ParameterRanges as an Optuna distribution; ServiceError if one is malformed."""
    if not isinstance(ranges, dict):
        raise ServiceError("ParameterRanges must be a map of ContinuousParameterRanges, IntegerParameterRanges "
                           "and CategoricalParameterRanges", "ranges")
    unknown = set(ranges) - set(RANGE_KINDS) - {"AutoParameters"}
    if unknown:
        raise ServiceError(f"ParameterRanges has no {', '.join(sorted(unknown))}: it takes "
                           f"{', '.join(RANGE_KINDS)}", "ranges")
    if ranges.get("AutoParameters"):
        raise ServiceError("AutoParameters (Autotune) is not supported: give each range", "ranges")
    params, seen = [], set()
    for kind in RANGE_KINDS:
        for entry in ranges.get(kind) or []:
            name = entry.get("Name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name:
                raise ServiceError(f"every entry of {kind} needs a Name", "ranges")
            if name in seen:
                raise ServiceError(f"{name} is given more than one range", "ranges")
            seen.add(name)
            if kind == "CategoricalParameterRanges":
                values = entry.get("Values")
                if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                    raise ServiceError(f"the categorical range of {name} needs Values, a list of strings", "ranges")
                params.append(Param(name, CategoricalDistribution(list(dict.fromkeys(values)))))
            else:
                params.append(_scaled(entry, kind))
    if not params:
        raise ServiceError("ParameterRanges names no hyperparameter to tune", "ranges")
    return params


def grid_space(params: list[Param]) -> dict[str, list]:
    """Grid's search space: every categorical value and every integer of an integer range."""
    space = {}
    for param in params:
        distribution = param.distribution
        if isinstance(distribution, CategoricalDistribution):
            space[param.name] = list(distribution.choices)
        elif isinstance(distribution, IntDistribution):
            space[param.name] = list(range(distribution.low, distribution.high + 1))
        else:
            # AWS's words for a continuous range under Grid.
            raise ServiceError("The Grid search strategy only supports categorical and integer parameter ranges "
                               f"(ContinuousParameterRanges {param.name} is not supported).", "ranges")
    return space


def grid_size(ranges: dict) -> int:
    return math.prod(len(values) for values in grid_space(params_of(ranges)).values())


def _sampler(strategy: str, params: list[Param], seed: int):
    if strategy == "Grid":
        return optuna.samplers.GridSampler(grid_space(params), seed=seed)
    if strategy == "Random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Bayesian and Hyperband: TPE, Optuna's Bayesian optimisation (Hyperband's pruner drives its brackets).
    return optuna.samplers.TPESampler(seed=seed)


MAX_HYPERBAND_RESOURCE = 20_000  # AWS's largest MaxResource, in epochs


def hyperband_resources(config: dict | None, max_epochs: int) -> tuple[int, int]:
    """A HyperbandStrategyConfig's MinResource and MaxResource, checked as SageMaker documents them: whole
    numbers of epochs, 1 <= MinResource <= MaxResource <= 20,000; MaxResource, when not given, is inferred
    from the trials' ``epochs``, and MinResource is 1."""
    config = config or {}
    values = {}
    for name, default in (("MinResource", 1), ("MaxResource", max_epochs)):
        value = config.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HYPERBAND_RESOURCE:
            raise ServiceError(f"HyperbandStrategyConfig {name} must be a whole number of epochs from 1 to "
                               f"{MAX_HYPERBAND_RESOURCE}, not {value!r}", "strategy")
        values[name] = value
    if values["MinResource"] > values["MaxResource"]:
        raise ServiceError(f"HyperbandStrategyConfig MinResource ({values['MinResource']}) must not be greater "
                           f"than MaxResource ({values['MaxResource']})", "strategy")
    return values["MinResource"], values["MaxResource"]


def _pruner(strategy: str, max_epochs: int, hyperband: dict | None = None):
    if strategy == "Hyperband":
        min_resource, max_resource = hyperband_resources(hyperband, max_epochs)
        return optuna.pruners.HyperbandPruner(min_resource=min_resource, max_resource=max_resource,
                                              reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=MEDIAN_WARMUP_EPOCHS)


@dataclass(frozen=True)
class Past:
    """What one Trial row tells the study: its number, tuned values, per-epoch objective, how it ended
    (``state``: complete, pruned, fail or running) and its final objective."""
    number: int
    tuned: dict
    curve: dict  # {epoch (0-based): validation accuracy}
    state: str
    objective: float | None = None


STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "fail": TrialState.FAIL,
          "running": TrialState.RUNNING}


class Search:
    """The study of one tuning job, rebuilt from its trials so far."""

    def __init__(self, *, tuning_id: int, strategy: str, ranges: dict, max_epochs: int, past: list[Past],
                 hyperband: dict | None = None, current: int | None = None):
        """``current``: the number of the trial whose epochs ``should_prune`` judges; its epochs are not replayed."""
        self.params = params_of(ranges)
        self.by_name = {param.name: param for param in self.params}
        self.strategy = strategy
        # Grid's sampler shuffles its grid once: its seed stays, so grid ids mean the same in every rebuild.
        seed = tuning_id if strategy == "Grid" else tuning_id * 7919 + len(past)
        self.sampler = _sampler(strategy, self.params, seed)
        self.pruner = _pruner(strategy, max_epochs, hyperband)
        self.study = optuna.create_study(study_name=f"tuning-{tuning_id}", direction="maximize",
                                         sampler=self.sampler, pruner=self.pruner)
        self._ids = {}
        for row in sorted(past, key=lambda p: p.number):
            self._replay(Past(row.number, row.tuned, {}, "running") if row.number == current else row)

    def _distributions(self) -> dict:
        return {param.name: param.distribution for param in self.params}

    def _replay(self, row: Past, *, until: int | None = None) -> optuna.trial.FrozenTrial:
        """The trial added as it ran: its epochs reported one by one through the pruner, then its end."""
        storage = self.study._storage
        sampled = {name: self.by_name[name].sampled_of(value) for name, value in row.tuned.items()
                   if name in self.by_name}
        self.study.add_trial(optuna.trial.create_trial(state=TrialState.RUNNING, params=sampled,
                                                       distributions=self._distributions()))
        trial_id = self.study._storage.get_all_trials(self.study._study_id, deepcopy=False)[-1]._trial_id
        self._ids[row.number] = trial_id
        if self.strategy == "Grid":
            self._grid_attrs(trial_id, sampled)
        for epoch in sorted(row.curve):
            if until is not None and epoch > until:
                break
            storage.set_trial_intermediate_value(trial_id, epoch, float(row.curve[epoch]))
            if self.pruner.prune(self.study, storage.get_trial(trial_id)) and row.state != "running":
                break  # a live study would have pruned it here too; later epochs are not its record
        state = STATES[row.state]
        if state == TrialState.COMPLETE and row.objective is None:
            state = TrialState.FAIL
        if state != TrialState.RUNNING:
            storage.set_trial_state_values(trial_id, state, [row.objective] if state == TrialState.COMPLETE
                                           else None)
        return storage.get_trial(trial_id)

    def _grid_attrs(self, trial_id: int, sampled: dict) -> None:
        """The grid point a trial took, as GridSampler marks it, so that no later trial takes it again."""
        sampler = self.sampler
        point = tuple(sampled.get(name) for name in sampler._search_space)
        if point in sampler._all_grids:
            storage = self.study._storage
            storage.set_trial_system_attr(trial_id, "search_space", sampler._search_space)
            storage.set_trial_system_attr(trial_id, "grid_id", sampler._all_grids.index(point))

    def exhausted(self) -> bool:
        """Whether a Grid has given every point, to trials running as well as finished (Optuna's own
        ``is_exhausted`` counts finished trials only, so a parallel step could be handed a point twice)."""
        if self.strategy != "Grid":
            return False
        return len(self.study.trials) >= math.prod(len(values) for values in grid_space(self.params).values())

    def ask(self) -> dict[str, str]:
        """The next trial's hyperparameters, as strings; it stays running in this study."""
        trial = self.study.ask()
        tuned = {}
        for param in self.params:
            distribution = param.distribution
            if isinstance(distribution, CategoricalDistribution):
                sampled = trial.suggest_categorical(param.name, distribution.choices)
            elif isinstance(distribution, IntDistribution):
                sampled = trial.suggest_int(param.name, distribution.low, distribution.high, log=distribution.log)
            else:
                sampled = trial.suggest_float(param.name, distribution.low, distribution.high, log=distribution.log)
            tuned[param.name] = param.value_of(sampled)
        return tuned

    def should_prune(self, row: Past, epoch: int) -> bool:
        """Whether the running trial ``row`` (the Search's ``current``), whose epoch ``epoch`` just ended, falls
        behind: Optuna's median rule (or Hyperband's rungs) over the other trials' per-epoch objective, asked
        epoch by epoch as a live study asks it."""
        storage = self.study._storage
        if row.number not in self._ids:
            self._replay(Past(row.number, row.tuned, {}, "running"))
        trial_id = self._ids[row.number]
        for step in sorted(step for step in row.curve if step <= epoch):
            storage.set_trial_intermediate_value(trial_id, step, float(row.curve[step]))
            if self.pruner.prune(self.study, storage.get_trial(trial_id)):
                return True
        return False
