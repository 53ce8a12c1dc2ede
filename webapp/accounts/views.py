from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.views import ObtainAuthToken

from webapp.accounts import services


@login_not_required
def signup(request):
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_create(username=form.cleaned_data["username"], password=form.cleaned_data["password1"])
        login(request, user)
        return redirect("dataset-list")
    first = not User.objects.exists()
    return render(request, "registration/signup.html", {"form": form, "first": first})


def account(request):
    return render(request, "accounts/account.html", {"token": services.token_get(user=request.user)})


@require_POST
def token_regenerate(request):
    services.token_regenerate(user=request.user)
    return redirect("account")


class TokenForCredentials(ObtainAuthToken):
    """``POST /api/auth/token/`` with username and password gives the user's API token."""

    permission_classes = ()
