"""Jobs say which epoch their model holds; reasons and log lines recorded before no longer show the
server's paths (they name files under the media folder as "jobs/1/…")."""
from django.db import migrations, models


def shown(text: str) -> str:
    from django.conf import settings

    for place, name in ((settings.MEDIA_ROOT, ""), (settings.MODEL_STORE, "the model store"),
                        (settings.VAR_DIR, "the state folder")):
        text = text.replace(f"{place}/", f"{name}/" if name else "").replace(str(place), name or "the media folder")
    return text


def hide_server_paths(apps, schema_editor):
    TrainingJob = apps.get_model("training", "TrainingJob")
    JobEvent = apps.get_model("training", "JobEvent")
    for job in TrainingJob.objects.exclude(reason=""):
        if shown(job.reason) != job.reason:
            TrainingJob.objects.filter(id=job.id).update(reason=shown(job.reason))
    for event in JobEvent.objects.filter(kind__in=["log", "state"]).iterator():
        key = "line" if event.kind == "log" else "reason"
        text = event.data.get(key) or ""
        if shown(text) != text:
            JobEvent.objects.filter(id=event.id).update(data={**event.data, key: shown(text)})


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0002_evaluation'),
    ]

    operations = [
        migrations.AddField(
            model_name='trainingjob',
            name='final_epochs',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='trainingjob',
            name='kept_epoch',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='trainingjob',
            name='kept_metrics',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='trainingjob',
            name='kept_reason',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.RunPython(hide_server_paths, migrations.RunPython.noop),
    ]
