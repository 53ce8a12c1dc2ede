from django.urls import path

from webapp.accounts import api

urlpatterns = [
    path("auth/token/", api.TokenForCredentials.as_view(), name="api-token"),
    path("tokens/", api.ApiKeys.as_view(), name="api-token-list"),
    path("tokens/<int:key_id>/", api.ApiKeyDetail.as_view(), name="api-token-detail"),
    path("access-keys/", api.AccessKeys.as_view(), name="api-access-key-list"),
    path("access-keys/<int:key_id>/", api.AccessKeyDetail.as_view(), name="api-access-key-detail"),
]
