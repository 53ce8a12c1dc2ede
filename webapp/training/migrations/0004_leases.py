"""Jobs keep their lease: its claim, the times a worker stopped on it, and the message last sent."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0003_kept_epoch_and_final_epochs'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingjob',
            name='attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='trainingjob',
            name='lease',
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name='trainingjob',
            name='sent',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='trainingjob',
            name='task_id',
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
