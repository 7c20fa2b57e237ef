"""Celery tasks of tickets: thin wrappers that take ids and call services (safe to run twice)."""

from celery import shared_task

from tickets.live import live_events_prune
from tickets.reply_channels import email_reply_deliver


@shared_task(
    name="tickets.email_reply_deliver",
    ignore_result=True,
    acks_late=True,
)
def email_reply_deliver_task(message_id: int) -> bool:
    """Sends a rep's email reply (a message still PENDING); a second run finds it sent."""
    return email_reply_deliver(message_id=message_id)


@shared_task(name="tickets.live_events_prune", ignore_result=True)
def live_events_prune_task() -> int:
    """Periodic: deletes live events older than ``LIVE_EVENT_RETENTION_SECONDS``."""
    return live_events_prune()
