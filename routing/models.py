"""Teams, reps' routing profiles, and the routing rule of each channel account."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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

    def __str__(self) -> str:
        return f"Profile of {self.user}"


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
