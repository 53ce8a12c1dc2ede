"""The registry's model is called RegisteredModel: "Model" read as Django's own base class at every use."""
from django.conf import settings
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0006_transform_cancel"),
        ("training", "0004_leases"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameModel("Model", "RegisteredModel"),
    ]
