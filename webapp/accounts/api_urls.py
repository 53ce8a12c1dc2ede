from django.urls import path

from webapp.accounts import views

urlpatterns = [path("auth/token/", views.TokenForCredentials.as_view(), name="api-token")]
