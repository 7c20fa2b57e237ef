"""Celery tasks of outbound delivery: thin wrappers that take ids and call services."""

from celery import shared_task

from channels_app.deliveries import deliveries_dispatch_due, delivery_attempt


@shared_task(name="channels_app.delivery_attempt", acks_late=True, ignore_result=True)
def delivery_attempt_task(delivery_id: int) -> None:
    """One attempt of a delivery (safe to run twice: only one run claims it)."""
    delivery_attempt(delivery_id=delivery_id)


@shared_task(name="channels_app.deliveries_dispatch_due", ignore_result=True)
def deliveries_dispatch_due_task() -> int:
    """Celery beat, every few seconds: wake workers for due deliveries, reclaim lost leases."""
    return deliveries_dispatch_due()
