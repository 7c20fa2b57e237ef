"""Celery tasks of outbound delivery: thin wrappers that take ids and call services."""

from celery import shared_task

from channels_app.deliveries import deliveries_dispatch_due, deliveries_send


@shared_task(name="channels_app.deliveries_send", acks_late=True, ignore_result=True)
def deliveries_send_task(channel_id: int) -> int:
    """Sends a channel's due deliveries (safe to run twice: each delivery is claimed once)."""
    return deliveries_send(channel_id=channel_id)


@shared_task(name="channels_app.deliveries_dispatch_due", ignore_result=True)
def deliveries_dispatch_due_task() -> int:
    """Celery beat, every few seconds: wake workers for due deliveries, reclaim lost leases."""
    return deliveries_dispatch_due()
