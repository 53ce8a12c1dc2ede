"""Jobs that succeeded before the registry existed get their models too."""
from django.db import migrations


def register(apps, schema_editor):
    TrainingJob = apps.get_model("training", "TrainingJob")
    Model = apps.get_model("registry", "Model")
    for job in TrainingJob.objects.filter(state="succeeded").exclude(artifact="").select_related("version__dataset"):
        hp = job.hyperparameters
        Model.objects.get_or_create(job=job, defaults=dict(
            owner_id=job.owner_id, name=f"job{job.id}", source="trained", artifact=job.artifact,
            class_names=job.version.class_names, hyperparameters=hp,
            image_shape=[int(n) for n in str(hp.get("image_shape", "3,224,224")).split(",")],
            num_layers=int(hp.get("num_layers", 152)), num_classes=int(hp.get("num_classes", 0)),
            metrics=job.metrics, state="ready"))


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial"), ("training", "0001_initial")]
    operations = [migrations.RunPython(register, migrations.RunPython.noop)]
