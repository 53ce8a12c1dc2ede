"""API tokens over the JSON API: one from a username and password, and a user's own list, new and revoke;
and the same for AWS-style access keys."""
from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts import selectors, services
from webapp.accounts.aws_environment import aws_environment
from webapp.accounts.models import AccessKey, ApiKey
from webapp.accounts.signin_limits import signin_refusal


class SigninPaused(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "signin_paused"


class ApiKeyOut(serializers.ModelSerializer):
    """A token as listed: never its secret, which is not kept."""

    class Meta:
        model = ApiKey
        fields = ["id", "name", "created", "last_used", "expires"]


class NewApiKeyOut(ApiKeyOut):
    token = serializers.CharField(help_text="The secret: send it as `Authorization: Token <token>`. Shown once.")

    class Meta(ApiKeyOut.Meta):
        fields = ["token", *ApiKeyOut.Meta.fields]


class ApiKeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, default="API token")
    expires = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                        help_text="When it stops working (ISO 8601); none: never.")


def _created(user, data, *, answer_status: int = status.HTTP_201_CREATED) -> Response:
    api_key, secret = services.api_key_create(user=user, name=data["name"], expires=data["expires"])
    api_key.token = secret
    return Response(NewApiKeyOut(api_key).data, status=answer_status)


class TokenForCredentials(APIView):
    """``POST /api/auth/token/`` with ``username`` and ``password`` (and optionally ``name``, ``expires``)
    makes a new API token for that user; answered 429 while sign-in is paused after wrong passwords."""

    authentication_classes = ()
    permission_classes = ()

    class Input(ApiKeyIn):
        username = serializers.CharField()
        password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
        name = serializers.CharField(max_length=100, required=False, default="from /api/auth/token/")

        class Meta:
            ref_name = "TokenForCredentialsInput"

    @extend_schema(request=Input, responses={200: NewApiKeyOut})
    def post(self, request):
        given = self.Input(data=request.data)
        given.is_valid(raise_exception=True)
        username = given.validated_data["username"]
        if refusal := signin_refusal(request, username):
            raise SigninPaused(refusal)
        user = authenticate(request, username=username, password=given.validated_data["password"])
        if user is None:
            raise serializers.ValidationError("wrong username or password")
        return _created(user, given.validated_data, answer_status=status.HTTP_200_OK)  # 200, as it always was


class ApiKeys(APIView):
    """``GET /api/tokens/``: the caller's tokens; ``POST``: a new one (its secret in this answer only)."""

    @extend_schema(responses={200: ApiKeyOut(many=True)})
    def get(self, request):
        return Response(ApiKeyOut(selectors.api_key_list(user=request.user), many=True).data)

    @extend_schema(request=ApiKeyIn, responses={201: NewApiKeyOut})
    def post(self, request):
        given = ApiKeyIn(data=request.data)
        given.is_valid(raise_exception=True)
        return _created(request.user, given.validated_data)


class ApiKeyDetail(APIView):
    """``DELETE /api/tokens/<id>/``: revoke one of the caller's tokens (another user's is 404)."""

    @extend_schema(responses={204: None})
    def delete(self, request, key_id: int):
        if not services.api_key_revoke(user=request.user, key_id=key_id):
            raise exceptions.NotFound(f"no token {key_id}")
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccessKeyOut(serializers.ModelSerializer):
    """An access key as listed: its id, never its secret."""

    class Meta:
        model = AccessKey
        fields = ["id", "name", "access_key_id", "created", "last_used", "revoked"]


class NewAccessKeyOut(AccessKeyOut):
    secret_access_key = serializers.CharField(help_text="The secret access key: shown once, in this answer only.")
    environment = serializers.DictField(
        child=serializers.CharField(),
        help_text="What boto3 and the SageMaker SDK read: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                  "AWS_DEFAULT_REGION and AWS_ENDPOINT_URL (this site).")

    class Meta(AccessKeyOut.Meta):
        fields = [*AccessKeyOut.Meta.fields, "secret_access_key", "environment"]


class AccessKeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, default="access key")


class AccessKeys(APIView):
    """``GET /api/access-keys/``: the caller's access keys (revoked ones marked); ``POST``: a new one, its
    secret access key in this answer only. Sign AWS requests (boto3, the SageMaker SDK) with them."""

    @extend_schema(responses={200: AccessKeyOut(many=True)})
    def get(self, request):
        return Response(AccessKeyOut(selectors.access_key_list(user=request.user), many=True).data)

    @extend_schema(request=AccessKeyIn, responses={201: NewAccessKeyOut})
    def post(self, request):
        given = AccessKeyIn(data=request.data)
        given.is_valid(raise_exception=True)
        access_key, secret = services.access_key_create(user=request.user, name=given.validated_data["name"])
        access_key.secret_access_key = secret
        access_key.environment = aws_environment(request, access_key.access_key_id, secret)
        return Response(NewAccessKeyOut(access_key).data, status=status.HTTP_201_CREATED)


class AccessKeyDetail(APIView):
    """``DELETE /api/access-keys/<id>/``: revoke one of the caller's active access keys (another user's is 404);
    requests signed with it are refused from then on."""

    @extend_schema(responses={204: None})
    def delete(self, request, key_id: int):
        if not services.access_key_revoke(user=request.user, key_id=key_id):
            raise exceptions.NotFound(f"no active access key {key_id}")
        return Response(status=status.HTTP_204_NO_CONTENT)
