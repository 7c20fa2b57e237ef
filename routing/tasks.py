"""Celery tasks of routing: thin wrappers that take ids and call services (safe to run twice)."""

from celery import shared_task

from routing.notifications import notification_email_send, notification_emails_send_due
from routing.services import backlog_drain


@shared_task(name="routing.backlog_drain", ignore_result=True)
def backlog_drain_task(user_id: int) -> int:
    """Hands out the backlog a rep can take, oldest first (after they became available or
    freed capacity)."""
    return backlog_drain(user_id=user_id)


@shared_task(
    name="routing.notification_email_send",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def notification_email_send_task(user_id: int, ticket_id: int) -> bool:
    """Emails a rep their pending notifications on a ticket, as one email."""
    return notification_email_send(user_id=user_id, ticket_id=ticket_id)


@shared_task(name="routing.notification_emails_send_due", ignore_result=True)
def notification_emails_send_due_task() -> int:
    """Periodic: sends the notification emails whose batching window has passed."""
    return notification_emails_send_due()
