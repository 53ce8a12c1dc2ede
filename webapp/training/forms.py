"""The training form, built from the classifier's hyperparameter schema so the two never drift."""
from __future__ import annotations

from django import forms

from classifier.hyperparameters import SCHEMA
from webapp.training.services import FROM_VERSION

HIDDEN = (*FROM_VERSION, "use_pretrained_model", "model_prefix")  # set from the version and the mode


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


class TrainingForm(forms.Form):
    mode = forms.ChoiceField(choices=[("full", "full training"), ("transfer", "transfer learning"),
                                      ("incremental", "incremental training")], initial="full")
    base_model = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="start from",
                                        help_text="a model of yours (incremental training)")
    base_upload = forms.FileField(required=False, label="or a SageMaker model.tar.gz")

    def __init__(self, *args, base_models=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_model"].choices = [("", "—")] + [(job.id, f"job {job.id}") for job in base_models]
        for name, spec in SCHEMA.items():
            if name not in HIDDEN:
                self.fields[name] = _field(spec)

    def hyperparameters(self) -> dict[str, str]:
        return {name: value for name, value in self.cleaned_data.items()
                if name in SCHEMA and value not in (None, "")}

    def hyperparameter_fields(self):
        return [self[name] for name in SCHEMA if name not in HIDDEN]
