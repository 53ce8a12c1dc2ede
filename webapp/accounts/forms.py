from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from webapp.accounts.signin_limits import signin_refusal


class SigninForm(AuthenticationForm):
    """Django's sign-in form, which says when sign-in is paused instead of "wrong password"."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and (refusal := signin_refusal(self.request, username)):
            raise forms.ValidationError(refusal, code="signin_paused")
        return super().clean()


EXPIRY_CHOICES = [("", "never"), ("7", "in 7 days"), ("30", "in 30 days"), ("90", "in 90 days"), ("365", "in a year")]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. 'laptop' or 'nightly job'.")
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")

    def expires(self):
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=int(days)) if days else None


class AccessKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. 'notebook' or 'training script'.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="access_key_%s", **kwargs)  # beside the token form's id_name
