"""The baseline's one table: what a minimal message-ingest endpoint would store."""

from django.db import models


class BaselineMessage(models.Model):
    channel_id = models.BigIntegerField()
    channel_account_id = models.BigIntegerField()
    direction = models.CharField(max_length=10)
    text = models.TextField()
    sender = models.CharField(max_length=320)
    integration_thread_id = models.CharField(max_length=500, blank=True, default="")
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
