from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from webapp.accounts import selectors, services
from webapp.accounts.aws_environment import aws_environment, export_lines
from webapp.accounts.forms import AccessKeyForm, ApiKeyForm, SigninForm


@login_not_required
def signup(request):
    first = not User.objects.exists()
    if not settings.SIGNUP_OPEN:
        return render(request, "registration/signup_closed.html", status=403 if request.method == "POST" else 200)
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_create(username=form.cleaned_data["username"], password=form.cleaned_data["password1"])
        login(request, user)
        return redirect("dataset-list")
    return render(request, "registration/signup.html", {"form": form, "first": first})


def _account_page(request, *, key_form=None, user_form=None, new_secret=None, access_key_form=None,
                  new_access_key=None, status=200):
    return render(request, "accounts/account.html", {
        "api_keys": selectors.api_key_list(user=request.user),
        "key_form": key_form or ApiKeyForm(),
        "access_keys": selectors.access_key_list(user=request.user),
        "access_key_form": access_key_form or AccessKeyForm(),
        "new_access_key": new_access_key,
        "user_form": user_form or (UserCreationForm() if request.user.is_staff else None),
        "new_secret": new_secret,
        "signup_open": settings.SIGNUP_OPEN,
    }, status=status)


def account(request):
    return _account_page(request)


@require_POST
def api_key_create(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _account_page(request, key_form=form, status=400)
    try:
        api_key, secret = services.api_key_create(user=request.user, name=form.cleaned_data["name"],
                                                  expires=form.expires())
    except services.AccountError as error:
        form.add_error(error.field, error.message)
        return _account_page(request, key_form=form, status=400)
    # The secret exists only in this answer (not in a redirect's session or URL): it is shown once.
    messages.success(request, f"Token “{api_key.name}” made. Copy it now: it is not shown again.")
    return _account_page(request, new_secret=secret)


@require_POST
def api_key_revoke(request, key_id: int):
    if not services.api_key_revoke(user=request.user, key_id=key_id):
        raise Http404("no such token")
    messages.success(request, "Token revoked: requests that send it are refused from now on.")
    return redirect("account")


@require_POST
def access_key_create(request):
    form = AccessKeyForm(request.POST)
    if not form.is_valid():
        return _account_page(request, access_key_form=form, status=400)
    try:
        access_key, secret = services.access_key_create(user=request.user, name=form.cleaned_data["name"])
    except services.AccountError as error:
        form.add_error(error.field, error.message)
        return _account_page(request, access_key_form=form, status=400)
    # As with tokens: the secret is in this answer only, never in a redirect, the session or a URL.
    messages.success(request, f"Access key “{access_key.name}” made. Copy its secret now: it is not shown again.")
    lines = export_lines(aws_environment(request, access_key.access_key_id, secret))
    return _account_page(request, new_access_key={"key": access_key, "secret": secret, "lines": lines})


@require_POST
def access_key_revoke(request, key_id: int):
    if not services.access_key_revoke(user=request.user, key_id=key_id):
        raise Http404("no such access key")
    messages.success(request, "Access key revoked: requests signed with it are refused from now on.")
    return redirect("account")


@require_POST
def user_create(request):
    """Staff make accounts (the only way in when sign-up is closed)."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff accounts make accounts for others.")
    form = UserCreationForm(request.POST)
    if not form.is_valid():
        return _account_page(request, user_form=form, status=400)
    user = services.user_create(username=form.cleaned_data["username"], password=form.cleaned_data["password1"],
                                is_staff=False)
    messages.success(request, f"Account “{user.username}” made. Give them the password; they can change it "
                              "on their account page.")
    return redirect("account")


class SigninView(auth_views.LoginView):
    authentication_form = SigninForm

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "signup_open": settings.SIGNUP_OPEN}


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("account")

    def form_valid(self, form):
        messages.success(self.request, "Password changed.")
        return super().form_valid(form)
