# The inbox's live events (I8): numbered changes a reconnecting page catches up on.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0002_default_inbox_and_pipeline"),
    ]

    operations = [
        migrations.CreateModel(
            name="LiveEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("ticket.created", "Ticket created"), ("message.created", "Message created"), ("ticket.assigned", "Ticket assigned"), ("ticket.status_changed", "Ticket status changed"), ("message.status_changed", "Delivery status changed"), ("notification.created", "Notification created")], max_length=40)),
                ("ticket_id", models.BigIntegerField(blank=True, null=True)),
                ("message_id", models.BigIntegerField(blank=True, null=True)),
                ("owner_id", models.BigIntegerField(blank=True, null=True)),
                ("user_id", models.BigIntegerField(blank=True, null=True)),
                ("data", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["id"],
                "indexes": [models.Index(fields=["created_at"], name="live_event_created_at")],
            },
        ),
    ]
