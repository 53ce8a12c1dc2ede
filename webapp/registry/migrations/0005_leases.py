"""Batch transforms keep their lease: its claim, the times a worker stopped on it, and the message last sent."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0004_model_kept_epoch'),
    ]

    operations = [
        migrations.AddField(
            model_name='batchtransform',
            name='attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='batchtransform',
            name='lease',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='batchtransform',
            name='sent',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='batchtransform',
            name='task_id',
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
