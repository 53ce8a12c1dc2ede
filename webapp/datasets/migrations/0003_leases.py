"""Version builds are claimed and beaten on like jobs (worker, heartbeat, lease, attempts, message sent)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0002_undoable_class_delete_and_auto_split'),
    ]

    operations = [
        migrations.AddField(
            model_name='datasetversion',
            name='attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='heartbeat',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='lease',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='sent',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='task_id',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='datasetversion',
            name='worker',
            field=models.CharField(blank=True, max_length=200),
        ),
    ]
