"""Writes of reps' notifications (I9): in-app rows, their batched emails, and preferences.

``notification_create`` stores the in-app notifications of one event for the reps who have
that kind on; a rep offline at that moment also gets it by email. Emails leave from a Celery
task after commit, one per rep and ticket for all of that rep's pending notifications on the
ticket: a burst of messages is one email, not one per message.

Batching window (``ROUTING_NOTIFICATION_EMAIL_BATCH_SECONDS``, 0 = send at once): a pending
notification is emailed once the oldest pending one of its rep and ticket is that old, so
everything that arrives within the window goes together. Each notification's task is sent
with that countdown to a real worker; with in-process tasks (which ignore countdowns) the
periodic ``routing.notification_emails_send_due`` sends what is due, and without that
periodic task scheduled the window is 0 (sending at once beats never sending).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Min
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk.on_commit import after_commit
from routing.models import Notification, NotificationKind, NotificationPreference, RepProfile
from routing.selectors import presence_is_online, rep_profile_is_online
from tickets.live import live_notifications_publish
from tickets.models import Message, MessageDirection, Ticket

logger = logging.getLogger(__name__)

EMAIL_SWEEP_TASK = "routing.notification_emails_send_due"


def email_batch_seconds() -> float:
    """The batching window; 0 when nothing would send a held email later (no sweeper)."""
    window = float(getattr(settings, "ROUTING_NOTIFICATION_EMAIL_BATCH_SECONDS", 30))
    if window <= 0:
        return 0.0
    if settings.CELERY_TASK_ALWAYS_EAGER:
        scheduled = {entry.get("task") for entry in settings.CELERY_BEAT_SCHEDULE.values()}
        if EMAIL_SWEEP_TASK not in scheduled:
            return 0.0
    return window


def message_sender_name(message: Message) -> str:
    """Who wrote a message, for people: the sender's name, else their delivery identifier."""
    senders = message.senders or []
    first = senders[0] if senders and isinstance(senders[0], dict) else {}
    if first.get("name"):
        return str(first["name"])
    identifier = first.get("deliveryIdentifier") or {}
    return str(identifier.get("value") or "the contact")


# --- Creating notifications -----------------------------------------------------------------


# No savepoint: called inside its caller's transaction, which fails whole with it.
@transaction.atomic(savepoint=False)
def notification_create(
    *,
    kind: str,
    user_ids: Iterable[int],
    ticket: Ticket,
    text: str,
    message: Message | None = None,
) -> list[Notification]:
    """Stores one notification of ``kind`` for each of the active ``user_ids`` who have the kind
    on; those offline now, with an email address, get it by email too (after commit, batched
    per rep and ticket). Three queries whatever the number of users; no locks.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return []
    switched_off = set(
        NotificationPreference.objects.filter(
            user_id__in=ids, kind=kind, enabled=False
        ).values_list("user_id", flat=True)
    )
    ids = [user_id for user_id in ids if user_id not in switched_off]
    if not ids:
        return []
    now = timezone.now()
    recipients = (
        get_user_model()
        .objects.filter(pk__in=ids, is_active=True)
        .order_by("pk")
        .values_list("pk", "email", "rep_profile__last_seen_at", "rep_profile__live_connections")
    )
    notifications = []
    for user_id, email, last_seen_at, live_connections in recipients:
        online = presence_is_online(
            last_seen_at=last_seen_at, live_connections=live_connections or 0, now=now
        )
        notifications.append(
            Notification(
                user_id=user_id,
                kind=kind,
                ticket=ticket,
                message=message,
                text=text[:500],
                email_status=(
                    Notification.EmailStatus.PENDING
                    if email and not online
                    else Notification.EmailStatus.NONE
                ),
            )
        )
    Notification.objects.bulk_create(notifications)
    # Live (I8, I9): each rep's open pages ring the bell once this commits (one INSERT).
    live_notifications_publish(notifications=notifications, ticket=ticket)
    for notification in notifications:
        if notification.email_status == Notification.EmailStatus.PENDING:
            after_commit(_email_task_send, notification.user_id, ticket.pk)
    return notifications


def _email_task_send(user_id: int, ticket_id: int) -> None:
    from routing.tasks import notification_email_send_task

    window = email_batch_seconds()
    if window > 0 and not settings.CELERY_TASK_ALWAYS_EAGER:
        notification_email_send_task.apply_async((user_id, ticket_id), countdown=window)
    else:
        notification_email_send_task.delay(user_id, ticket_id)


def notification_create_for_message(*, ticket: Ticket, message: Message) -> list[Notification]:
    """A new INCOMING message on an existing ticket: its owner is notified (NEW_MESSAGE).

    Called by ``tickets.publish.message_publish_inbound`` inside its transaction.
    """
    if ticket.owner_id is None or message.direction != MessageDirection.INCOMING:
        return []
    return notification_create(
        kind=NotificationKind.NEW_MESSAGE,
        user_ids=[ticket.owner_id],
        ticket=ticket,
        message=message,
        text=f"New message from {message_sender_name(message)} on ticket #{ticket.pk} "
        f'"{ticket.name}".',
    )


@transaction.atomic
def notification_mark_read(*, user: Any, notification_ids: Iterable[int] | None = None) -> int:
    """Marks the rep's notifications read (all unread ones when no ids); returns how many."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


@transaction.atomic
def notification_preferences_set(*, user: Any, enabled: dict[str, bool]) -> dict[str, bool]:
    """Switches notification kinds on or off for a rep (in-app and email together).

    Unknown kinds raise ``ValueError``; kinds not named keep their setting.
    """
    unknown = set(enabled) - set(NotificationKind.values)
    if unknown:
        raise ValueError(f"Unknown notification kinds: {', '.join(sorted(unknown))}")
    for kind, on in enabled.items():
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind, defaults={"enabled": bool(on)}
        )
    stored = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "enabled"))
    return {kind: stored.get(kind, True) for kind in NotificationKind.values}


# --- Emails ---------------------------------------------------------------------------------


@transaction.atomic
def notification_email_send(*, user_id: int, ticket_id: int, now: datetime | None = None) -> bool:
    """Sends one email with every pending notification of a rep on a ticket; True if sent.

    Locks the pending rows (``FOR UPDATE``): a concurrent run waits, then finds them sent, so
    each is emailed once. Holds them (sends nothing) while the oldest is younger than the
    batching window; skips them if the rep came back online or has no address any more. The
    email goes through Django's email backend; an error rolls back and the task retries.
    """
    now = now or timezone.now()
    pending = list(
        Notification.objects.select_for_update(of=("self",))
        .select_related("message", "ticket", "user")
        .filter(user_id=user_id, ticket_id=ticket_id, email_status=Notification.EmailStatus.PENDING)
        .order_by("id")
    )
    if not pending:
        return False
    window = email_batch_seconds()
    if window > 0 and now - pending[0].created_at < timedelta(seconds=window):
        return False
    user = pending[0].user
    profile = RepProfile.objects.filter(user_id=user_id).first()
    ids = [notification.pk for notification in pending]
    if not user.is_active or not user.email or rep_profile_is_online(profile, now=now):
        Notification.objects.filter(pk__in=ids).update(
            email_status=Notification.EmailStatus.SKIPPED
        )
        return False
    ticket = pending[0].ticket
    context = {
        "user": user,
        "ticket": ticket,
        "ticket_url": settings.PUBLIC_BASE_URL + ticket.get_absolute_url(),
        "settings_url": f"{settings.PUBLIC_BASE_URL}/settings/notifications/",
        "items": [
            {
                "text": notification.text,
                "sender": message_sender_name(notification.message) if notification.message else "",
                "message": notification.message.text if notification.message else "",
            }
            for notification in pending
        ],
    }
    subject = (
        pending[0].text
        if len(pending) == 1
        else f'{len(pending)} updates on ticket #{ticket.pk} "{ticket.name}"'
    )
    send_mail(
        subject=subject[:200],
        message=render_to_string("routing/email/notifications.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    Notification.objects.filter(pk__in=ids).update(
        email_status=Notification.EmailStatus.SENT, emailed_at=now
    )
    return True


def notification_emails_send_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Periodic: sends the pending emails whose batching window has passed; returns how many.

    Each rep and ticket is sent in its own short transaction (``notification_email_send``).
    """
    now = now or timezone.now()
    due_before = now - timedelta(seconds=email_batch_seconds())
    pairs = (
        Notification.objects.filter(email_status=Notification.EmailStatus.PENDING)
        .values("user_id", "ticket_id")
        .annotate(oldest=Min("created_at"))
        .filter(oldest__lte=due_before)
        .order_by("oldest")[:limit]
    )
    sent = 0
    for pair in list(pairs):
        try:
            if notification_email_send(
                user_id=pair["user_id"], ticket_id=pair["ticket_id"], now=now
            ):
                sent += 1
        except Exception:
            logger.exception("Notification email to user %s failed", pair["user_id"])
    return sent
