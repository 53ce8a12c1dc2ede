"""DRF's authtoken kept each user's token in plaintext (``authtoken_token``). Each becomes an ApiKey holding
its sha256, so the key a client already has keeps working, and the plaintext row is deleted. The table is
read with SQL: the authtoken app is no longer installed (a fresh database never had it)."""
import datetime
import hashlib

from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

LEGACY_TABLE = "authtoken_token"


def hash_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiKey = apps.get_model("accounts", "ApiKey")
    table = schema_editor.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema_editor.quote_name('key')}, user_id, created FROM {table}")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        if isinstance(created, str):  # SQLite through a raw cursor
            created = parse_datetime(created)
        if created is not None and timezone.is_naive(created):
            created = timezone.make_aware(created, datetime.timezone.utc)
        api_key = ApiKey.objects.create(user_id=user_id, name="API token (made before tokens had names)",
                                        digest=hashlib.sha256(key.encode()).hexdigest())
        # auto_now_add set "now"; the token is as old as it was.
        ApiKey.objects.filter(id=api_key.id).update(created=created or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_api_keys")]

    operations = [migrations.RunPython(hash_plaintext_tokens, migrations.RunPython.noop)]
