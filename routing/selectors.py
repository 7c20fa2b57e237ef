"""Reads of routing: presence, routing decisions, notifications and notification preferences,
and the users and teams of the settings pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from routing.models import (
    AssignmentDecision,
    Notification,
    NotificationKind,
    NotificationPreference,
    RepProfile,
    RoutingRule,
    Team,
)
from tickets.models import Ticket, TicketState

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


# --- Users and teams (settings pages) -------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    """A user as the settings pages show them: routing profile (None: never set, the model's
    defaults apply), teams by name, open tickets owned, and the effective admin role."""

    user: Any
    profile: RepProfile | None
    teams: list[Team]
    open_tickets: int

    @property
    def is_admin(self) -> bool:
        return RepProfile.grants_admin(self.user, self.profile.role if self.profile else None)

    @property
    def availability(self) -> str:
        return self.profile.availability if self.profile else RepProfile.Availability.AVAILABLE

    @property
    def capacity(self) -> int | None:
        return self.profile.capacity if self.profile else None


def _users_for_settings() -> QuerySet[Any]:
    open_tickets = (
        Ticket.objects.filter(owner_id=OuterRef("pk"), state=TicketState.OPEN)
        .order_by()
        .values("owner_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    return (
        get_user_model()
        .objects.select_related("rep_profile")
        .prefetch_related(Prefetch("teams", queryset=Team.objects.order_by("name", "id")))
        .annotate(
            open_ticket_count=Coalesce(Subquery(open_tickets, output_field=IntegerField()), 0)
        )
    )


def _user_row(user: Any) -> UserRow:
    return UserRow(
        user=user,
        profile=getattr(user, "rep_profile", None),
        teams=list(user.teams.all()),
        open_tickets=user.open_ticket_count,
    )


def user_list_for_settings() -> list[UserRow]:
    """Every user, active ones first, by username: profile, teams and open-ticket count in two
    queries whatever their number."""
    return [_user_row(user) for user in _users_for_settings().order_by("-is_active", "username")]


def user_get_for_settings(*, user_id: int) -> UserRow:
    """One user as ``user_list_for_settings`` shows them; 404 when there is none."""
    return _user_row(get_object_or_404(_users_for_settings(), pk=user_id))


def team_list_for_settings() -> QuerySet[Team]:
    """Teams by name with ``member_count`` and ``rule_count`` (the non-deleted channel
    accounts whose routing rule assigns through the team: ``team_routing_accounts``), in one
    query."""
    rules = (
        RoutingRule.teams.through.objects.filter(
            team_id=OuterRef("pk"), routingrule__channel_account__archived=False
        )
        .exclude(routingrule__mode=RoutingRule.Mode.NONE)
        .order_by()
        .values("team_id")
        .annotate(count=Count("routingrule_id"))
        # django-stubs does not see annotations on auto-created through models.
        .values("count")  # type: ignore[misc]
    )
    return Team.objects.annotate(
        member_count=Count("members", filter=Q(members__is_active=True), distinct=True),
        inactive_member_count=Count("members", filter=Q(members__is_active=False), distinct=True),
        rule_count=Coalesce(Subquery(rules, output_field=IntegerField()), 0),
    ).order_by("name", "id")


def team_routing_accounts(*, team_id: int) -> list[str]:
    """The (non-deleted) channel accounts whose routing rule names the team while assigning
    to specific users and teams or to the contact owner, as "Channel · Account", by name."""
    rule_ids = RoutingRule.teams.through.objects.filter(team_id=team_id).values("routingrule_id")
    return [
        f"{channel} · {account}"
        for channel, account in RoutingRule.objects.filter(
            pk__in=rule_ids, channel_account__archived=False
        )
        .exclude(mode=RoutingRule.Mode.NONE)
        .order_by("channel_account__channel__name", "channel_account__name")
        .values_list("channel_account__channel__name", "channel_account__name")
    ]


def team_get_for_settings(*, team_id: int) -> Team:
    """One team (404 when there is none)."""
    return get_object_or_404(Team, pk=team_id)


def team_member_choices() -> QuerySet[Any]:
    """The users a team's members are chosen from: everyone, active ones first (a deactivated
    member stays listed, so saving the team does not drop them unseen)."""
    return get_user_model().objects.order_by("-is_active", "username")
