from django.contrib import admin

from webapp.accounts.models import AccessKey, ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Staff can see and revoke (delete) tokens; a token is made by its owner, who alone sees its secret."""

    list_display = ["user", "name", "created", "last_used", "expires"]
    readonly_fields = ["user", "name", "digest", "created", "last_used", "expires"]

    def has_add_permission(self, request):
        return False


@admin.register(AccessKey)
class AccessKeyAdmin(admin.ModelAdmin):
    """Staff see access keys by id and owner; the secret is never shown, even encrypted."""

    list_display = ["user", "name", "access_key_id", "created", "last_used", "revoked"]
    fields = readonly_fields = ["user", "name", "access_key_id", "created", "last_used", "revoked"]

    def has_add_permission(self, request):
        return False
