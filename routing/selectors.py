"""Reads of routing: presence, routing decisions, notifications and notification preferences."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from routing.models import (
    AssignmentDecision,
    Notification,
    NotificationKind,
    NotificationPreference,
    RepProfile,
)

# "Online" (R5): a live inbox connection, or activity within this window.
PRESENCE_ONLINE_SECONDS = 120


def presence_connection_ttl_seconds() -> int:
    """How long a live connection counts without any sign of life (``last_seen_at``).

    A web process that dies cannot decrement its connections' count; without this bound its
    reps would look online (and never get email) for ever. The inbox's consumer refreshes
    ``last_seen_at`` (``presence_touch``) on its heartbeats, well within this.
    """
    return int(getattr(settings, "ROUTING_PRESENCE_CONNECTION_TTL_SECONDS", 600))


def presence_is_online(
    *, last_seen_at: datetime | None, live_connections: int, now: datetime | None = None
) -> bool:
    """Whether a rep is online: activity in the last 2 minutes, or a live inbox connection."""
    if last_seen_at is None:
        return False
    age = (now or timezone.now()) - last_seen_at
    if age <= timedelta(seconds=PRESENCE_ONLINE_SECONDS):
        return True
    return live_connections > 0 and age <= timedelta(seconds=presence_connection_ttl_seconds())


def rep_profile_is_online(profile: RepProfile | None, *, now: datetime | None = None) -> bool:
    if profile is None:
        return False
    return presence_is_online(
        last_seen_at=profile.last_seen_at, live_connections=profile.live_connections, now=now
    )


def assignment_decision_list_for_ticket(*, ticket_id: int) -> QuerySet[AssignmentDecision]:
    """The routing decisions of a ticket, newest first, with the assignee (one query)."""
    return (
        AssignmentDecision.objects.filter(ticket_id=ticket_id)
        .select_related("assignee")
        .order_by("-id")
    )


def notification_list_for_user(*, user: Any, unread_only: bool = False) -> QuerySet[Notification]:
    """A rep's notifications, newest first, with their ticket (one query per page)."""
    notifications = Notification.objects.filter(user=user).select_related("ticket")
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-id")


def notification_unread_count(*, user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_preferences_for_user(*, user: Any) -> dict[str, bool]:
    """Every notification kind with whether the rep has it on (no row means on)."""
    stored = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "enabled"))
    return {kind: stored.get(kind, True) for kind in NotificationKind.values}
