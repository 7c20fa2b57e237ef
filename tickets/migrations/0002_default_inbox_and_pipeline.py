"""A fresh install has one help desk inbox and the default pipeline (SPEC T2)."""

from django.db import migrations

DEFAULT_STATUSES = [
    ("New", "OPEN"),
    ("Waiting on contact", "OPEN"),
    ("Waiting on us", "OPEN"),
    ("Closed", "CLOSED"),
]


def create_defaults(apps, schema_editor):
    Inbox = apps.get_model("tickets", "Inbox")
    Pipeline = apps.get_model("tickets", "Pipeline")
    PipelineStatus = apps.get_model("tickets", "PipelineStatus")
    if not Inbox.objects.exists():
        Inbox.objects.create(name="Help Desk", type="HELP_DESK")
    if not Pipeline.objects.exists():
        pipeline = Pipeline.objects.create(name="Support Pipeline", is_default=True)
        for order, (name, state) in enumerate(DEFAULT_STATUSES):
            PipelineStatus.objects.create(
                pipeline=pipeline, name=name, state=state, display_order=order
            )


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
