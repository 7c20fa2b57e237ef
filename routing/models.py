"""Teams, reps' routing profiles, the routing rule of each channel account, the routing
decisions and backlog, and reps' notifications with their preferences."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class Team(models.Model):
    name = models.CharField(max_length=200, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RepProfile(models.Model):
    """A rep's routing state: role, availability, capacity and when they last got a ticket."""

    class Role(models.TextChoices):
        ADMIN = "ADMIN", "Admin"
        REP = "REP", "Rep"

    class Availability(models.TextChoices):
        AVAILABLE = "AVAILABLE", "Available"
        AWAY = "AWAY", "Away"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rep_profile"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.REP)
    availability = models.CharField(
        max_length=10, choices=Availability.choices, default=Availability.AVAILABLE
    )
    # Maximum open tickets; NULL means no limit.
    capacity = models.PositiveIntegerField(null=True, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Open inbox connections (websockets), kept by ``presence_connect``/``presence_disconnect``.
    live_connections = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    @staticmethod
    def grants_admin(user: Any, role: str | None) -> bool:
        """The admin rule everywhere (``routing.availability.rep_is_admin``, the users page): an
        active user who is staff, a superuser, or whose profile's ``role`` (None: no profile)
        is ADMIN."""
        return bool(
            user.is_active and (user.is_staff or user.is_superuser or role == RepProfile.Role.ADMIN)
        )


class RoutingRule(models.Model):
    """What a channel account does with a new ticket: its properties and who gets it.

    Changing a rule affects new tickets only. The assignment itself is
    ``routing.services.ticket_route``.
    """

    class Mode(models.TextChoices):
        NONE = "NONE", "None"
        SPECIFIC_USERS_AND_TEAMS = "SPECIFIC_USERS_AND_TEAMS", "Specific users and teams"
        CONTACT_OWNER = "CONTACT_OWNER", "Contact owner"

    DEFAULT_NAME_TEMPLATE = "{contact} via {channel}"

    channel_account = models.OneToOneField(
        "channels_app.ChannelAccount", on_delete=models.CASCADE, related_name="routing_rule"
    )
    pipeline = models.ForeignKey(
        "tickets.Pipeline", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    starting_status = models.ForeignKey(
        "tickets.PipelineStatus", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    priority = models.CharField(max_length=10, blank=True, default="")
    category = models.CharField(max_length=30, blank=True, default="")
    name_template = models.CharField(max_length=300, default=DEFAULT_NAME_TEMPLATE)
    auto_assign = models.BooleanField(default=False)
    mode = models.CharField(max_length=30, choices=Mode.choices, default=Mode.NONE)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    teams = models.ManyToManyField(Team, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Routing of {self.channel_account_id}"


class AssignmentDecision(models.Model):
    """Why a ticket went to whom (R4): every routing decision, with the candidates considered.

    ``candidates`` holds one entry per rep considered: ``{userId, name, via, availability,
    capacity, openTickets, online, lastAssignedAt, eligible, reason, chosen}``, ``reason`` being
    null or a ``Reason``; ``details`` the rest (``teams``, ``contactOwner``, ``fallback``,
    ``triggeredByUserId``). ``summary`` is the same in one sentence, for people.
    """

    class Trigger(models.TextChoices):
        NEW_TICKET = "NEW_TICKET", "New ticket"
        BACKLOG = "BACKLOG", "Backlog"
        # A rep chose the owner in the inbox ("Ticket owner" menu): ``routing.ownership``.
        MANUAL = "MANUAL", "Reassigned by a rep"

    class Outcome(models.TextChoices):
        ASSIGNED = "ASSIGNED", "Assigned"
        WAITING = "WAITING", "Waiting for an eligible rep"
        UNASSIGNED = "UNASSIGNED", "Left unassigned"

    class Reason(models.TextChoices):
        """Why routing skipped a candidate rep (the label as pages show it)."""

        AWAY = "away", "Away"
        AT_CAPACITY = "at_capacity", "At capacity"
        INACTIVE = "inactive", "Deactivated"

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="assignment_decisions"
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    mode = models.CharField(max_length=30, blank=True, default="")
    auto_assign = models.BooleanField(default=False)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    candidates = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)
    summary = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["ticket", "-id"])]

    def __str__(self) -> str:
        return f"Routing of ticket {self.ticket_id}: {self.outcome}"


class WaitingTicket(models.Model):
    """The routing backlog: an open, unassigned ticket that no eligible rep could take yet.

    Handed out oldest first (``since``) by ``routing.services.backlog_drain`` when a rep of its
    account's rule becomes available or frees capacity. A row whose ticket was meanwhile closed
    or assigned by hand is stale; the drain removes it when it reaches it.
    """

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="routing_wait"
    )
    channel_account = models.ForeignKey(
        "channels_app.ChannelAccount", on_delete=models.CASCADE, related_name="+"
    )
    since = models.DateTimeField()

    class Meta:
        ordering = ["since", "id"]
        indexes = [models.Index(fields=["channel_account", "since", "id"])]

    def __str__(self) -> str:
        return f"Ticket {self.ticket_id} waiting since {self.since:%Y-%m-%d %H:%M}"


class NotificationKind(models.TextChoices):
    """What a rep is notified of (I9); each kind can be switched off in personal settings."""

    TICKET_ASSIGNED = "TICKET_ASSIGNED", "A ticket is assigned to you"
    NEW_MESSAGE = "NEW_MESSAGE", "A new message on a ticket you own"
    TEAM_TICKET_UNASSIGNED = (
        "TEAM_TICKET_UNASSIGNED",
        "A new unassigned ticket on a team you belong to",
    )


class Notification(models.Model):
    """An in-app notification of a rep (unread until ``read_at``).

    A rep who was offline when it was created also gets it by email: ``email_status`` PENDING
    until ``routing.notifications.notification_email_send`` sends all pending notifications of
    one rep on one ticket as one email (SENT), or finds the rep back online (SKIPPED).
    """

    class EmailStatus(models.TextChoices):
        NONE = "", "Not emailed"
        PENDING = "PENDING", "Pending"
        SENT = "SENT", "Sent"
        SKIPPED = "SKIPPED", "Skipped (online again)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="notifications"
    )
    message = models.ForeignKey(
        "tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(
        max_length=10, choices=EmailStatus.choices, blank=True, default=EmailStatus.NONE
    )
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user", "-id"]),
            models.Index(
                fields=["user", "ticket"],
                condition=Q(email_status="PENDING"),
                name="notification_email_pending",
            ),
        ]

    def __str__(self) -> str:
        return self.text


class NotificationPreference(models.Model):
    """A rep's switch for one notification kind (in-app and email); no row means on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}: {'on' if self.enabled else 'off'}"
