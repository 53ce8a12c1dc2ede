from django.contrib.auth import views as auth_views
from django.urls import path

from webapp.accounts import views

urlpatterns = [
    path("signin/", views.SigninView.as_view(), name="login"),
    path("signout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("account/", views.account, name="account"),
    path("account/token/", views.api_key_create, name="api-key-create"),
    path("account/token/<int:key_id>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("account/access-key/", views.access_key_create, name="access-key-create"),
    path("account/access-key/<int:key_id>/revoke/", views.access_key_revoke, name="access-key-revoke"),
    path("account/users/", views.user_create, name="account-user-create"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password-change"),
]
