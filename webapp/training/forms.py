"""The training form: a preset fitted to the version, and every SageMaker hyperparameter one click
away, grouped by what it tunes. Fields come from the classifier's schema so the two never drift."""
from __future__ import annotations

from django import forms

from classifier.hyperparameters import SCHEMA
from webapp.training.services import FROM_VERSION

HIDDEN = (*FROM_VERSION, "use_pretrained_model", "model_prefix")  # set from the version and the mode
GROUPS = (
    ("network", "Network", ("num_layers", "image_shape", "resize", "precision_dtype")),
    ("optimiser", "Optimiser", ("optimizer", "learning_rate", "momentum", "weight_decay", "beta_1", "beta_2", "eps",
                                "gamma")),
    ("schedule", "Schedule", ("epochs", "mini_batch_size", "lr_scheduler_step", "lr_scheduler_factor")),
    ("augmentation", "Augmentation", ("augmentation_type",)),
    ("stopping", "Early stopping", ("early_stopping", "early_stopping_min_epochs", "early_stopping_patience",
                                    "early_stopping_tolerance")),
    ("checkpoints", "Checkpoints", ("checkpoint_frequency",)),
    ("other", "Metrics, loss and machines", ("top_k", "use_weighted_loss", "kv_store")),
)
assert sorted(n for _, _, names in GROUPS for n in names) == sorted(n for n in SCHEMA if n not in HIDDEN)


def _field(spec) -> forms.Field:
    common = {"required": False, "help_text": spec.help, "label": spec.name}
    if spec.kind in ("choice",):
        choices = [("", "(none)")] if spec.default is None else []
        return forms.ChoiceField(choices=choices + [(str(c), str(c)) for c in spec.choices], initial=spec.default, **common)
    if spec.kind == "bool":
        return forms.ChoiceField(choices=[("False", "False"), ("True", "True")], initial=spec.default, **common)
    if spec.kind == "flag":
        return forms.ChoiceField(choices=[("0", "0"), ("1", "1")], initial=spec.default, **common)
    # Everything else stays text: the classifier parses SageMaker's strings and says what is wrong.
    return forms.CharField(initial=spec.default or "", **common)


def shown_default(name: str) -> str:
    """What a field shows when no preset sets it: SageMaker's default."""
    return SCHEMA[name].default or ""


class TrainingForm(forms.Form):
    preset = forms.ChoiceField(required=False, widget=forms.RadioSelect)
    # Which preset the fields below were filled from, so a preset chosen without the page's script
    # still applies, with whatever fields were changed by hand on top.
    fields_from = forms.CharField(required=False, widget=forms.HiddenInput)
    mode = forms.ChoiceField(choices=[("full", "full training"), ("transfer", "transfer learning"),
                                      ("incremental", "incremental training")], initial="full")
    base_model = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="start from",
                                        help_text="a model of yours: it must have the same network and input")
    base_upload = forms.FileField(required=False, label="or a SageMaker model.tar.gz")

    def __init__(self, *args, presets=(), base_models=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.presets = {preset.name: preset for preset in presets}
        self.fields["preset"].choices = [(p.name, p.title) for p in presets] + [("", "Custom")]
        self.fields["base_model"].choices = [("", "—")] + [(job.id, f"job {job.id}") for job in base_models]
        for name, spec in SCHEMA.items():
            if name not in HIDDEN:
                self.fields[name] = _field(spec)

    def hyperparameters(self) -> dict[str, str]:
        posted = {name: self.cleaned_data.get(name) or "" for name in SCHEMA if name not in HIDDEN}
        chosen = self.presets.get(self.cleaned_data.get("preset") or "")
        filled = self.presets.get(self.cleaned_data.get("fields_from") or "")
        if chosen and filled and chosen is not filled:
            before = {name: filled.hyperparameters.get(name, shown_default(name)) for name in posted}
            changed = {name: value for name, value in posted.items() if value != before[name]}
            posted = {**{name: chosen.hyperparameters.get(name, shown_default(name)) for name in posted}, **changed}
        return {name: value for name, value in posted.items() if value not in (None, "")}

    def groups(self):
        """(key, title, bound fields) in the order a person tunes them."""
        return [(key, title, [self[name] for name in names]) for key, title, names in GROUPS]

    def advanced_errors(self) -> bool:
        return any(self[name].errors for _, _, names in GROUPS for name in names)
