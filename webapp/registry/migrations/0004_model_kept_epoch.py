"""Models say which epoch they hold; those of earlier jobs get the kept epoch's figures from the
job's metrics.json instead of the last epoch's."""
import json
from pathlib import Path

from django.conf import settings
from django.db import migrations, models


def kept_epochs(apps, schema_editor):
    Model = apps.get_model("registry", "Model")
    TrainingJob = apps.get_model("training", "TrainingJob")
    for model in Model.objects.filter(job__isnull=False).select_related("job"):
        summary = Path(settings.MEDIA_ROOT) / f"jobs/{model.job_id}/metrics.json"
        try:
            data = json.loads(summary.read_text())
        except (OSError, ValueError):
            continue
        kept = data.get("best_epoch")
        row = next((r for r in data.get("history", []) if r.get("epoch") == (kept or 0) - 1), None)
        if row is None:
            continue
        figures = {k: v for k, v in row.items() if k not in ("epoch", "time")}
        why = "best validation accuracy" if not model.hyperparameters.get("checkpoint_frequency") else "the last epoch kept"
        reason = f"epoch {kept} of {len(data['history'])}: {why}"
        Model.objects.filter(id=model.id).update(metrics=figures, kept_epoch=kept, kept_reason=reason)
        TrainingJob.objects.filter(id=model.job_id).update(kept_metrics=figures, kept_epoch=kept, kept_reason=reason)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0003_transform_heartbeat'),
        ('training', '0003_kept_epoch_and_final_epochs'),
    ]

    operations = [
        migrations.AddField(
            model_name='model',
            name='kept_epoch',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='model',
            name='kept_reason',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.RunPython(kept_epochs, migrations.RunPython.noop),
    ]
