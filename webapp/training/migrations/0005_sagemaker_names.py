"""SageMaker's view of jobs: a name per job (existing ones get ``<dataset>-v<n>-<id>``), no version for jobs made
through the SageMaker API, and the time of each event (CloudWatch's log timestamps)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def name_existing_jobs(apps, schema_editor):
    from webapp.training.models import browser_job_name

    TrainingJob = apps.get_model("training", "TrainingJob")
    for job in TrainingJob.objects.filter(name="").select_related("version__dataset"):
        job.name = browser_job_name(job.version.dataset.name, job.version.number, job.id)
        job.save(update_fields=["name"])


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0003_leases'),
        ('training', '0004_leases'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='jobevent',
            name='created',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name='trainingjob',
            name='name',
            field=models.CharField(blank=True, max_length=63),
        ),
        migrations.AlterField(
            model_name='trainingjob',
            name='version',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='training_jobs', to='datasets.datasetversion'),
        ),
        migrations.RunPython(name_existing_jobs, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='trainingjob',
            constraint=models.UniqueConstraint(condition=models.Q(('name', ''), _negated=True), fields=('owner', 'name'), name='unique_job_name_per_owner'),
        ),
    ]
