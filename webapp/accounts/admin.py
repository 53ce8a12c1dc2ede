from django.contrib import admin

from webapp.accounts.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Staff can see and revoke (delete) tokens; a token is made by its owner, who alone sees its secret."""

    list_display = ["user", "name", "created", "last_used", "expires"]
    readonly_fields = ["user", "name", "digest", "created", "last_used", "expires"]

    def has_add_permission(self, request):
        return False
