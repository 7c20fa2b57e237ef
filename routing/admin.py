"""Admin for teams, reps' routing profiles, routing rules, routing decisions (R4: readable
explanations), the backlog, and notifications with their preferences."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from routing.availability import availability_set, capacity_set
from routing.models import (
    AssignmentDecision,
    Notification,
    NotificationPreference,
    RepProfile,
    RoutingRule,
    Team,
    WaitingTicket,
)
from routing.services import REASON_LABELS


def _reason_text(reason: str | None) -> str:
    if reason is None:
        return "eligible"
    return f"skipped: {REASON_LABELS.get(reason, reason).lower()}"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "created_at")
    filter_horizontal = ("members",)


@admin.register(RepProfile)
class RepProfileAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "role",
        "availability",
        "capacity",
        "live_connections",
        "last_assigned_at",
        "last_seen_at",
    )
    list_filter = ("role", "availability")
    list_select_related = ("user",)
    readonly_fields = ("live_connections", "last_assigned_at", "last_seen_at")

    def save_model(
        self, request: HttpRequest, obj: RepProfile, form: ModelForm, change: bool
    ) -> None:
        """Availability and capacity go through their services (permissions, backlog drain)."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        availability, capacity = obj.availability, obj.capacity
        current = RepProfile.objects.get(pk=obj.pk)
        obj.availability, obj.capacity = current.availability, current.capacity
        super().save_model(request, obj, form, change)
        if "availability" in form.changed_data:
            availability_set(user=obj.user, availability=availability, set_by=request.user)
        if "capacity" in form.changed_data:
            capacity_set(user=obj.user, capacity=capacity, set_by=request.user)
        obj.refresh_from_db()


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("channel_account", "mode", "auto_assign", "pipeline", "starting_status")
    list_select_related = ("channel_account", "pipeline", "starting_status")
    filter_horizontal = ("users", "teams")


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AssignmentDecision)
class AssignmentDecisionAdmin(_ReadOnlyAdmin):
    list_display = ("id", "ticket", "trigger", "mode", "outcome", "assignee", "created_at")
    list_filter = ("outcome", "trigger", "mode")
    list_select_related = ("ticket", "assignee")
    search_fields = ("=ticket__id", "summary")
    fields = (
        "ticket",
        "created_at",
        "trigger",
        "mode",
        "auto_assign",
        "outcome",
        "assignee",
        "summary",
        "candidates_table",
        "details",
    )
    readonly_fields = fields

    @admin.display(description="Candidates")
    def candidates_table(self, obj: AssignmentDecision) -> str:
        if not obj.candidates:
            return "None considered."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    entry.get("name"),
                    ", ".join(entry.get("via") or []),
                    entry.get("availability"),
                    f"{entry.get('openTickets')}/{entry.get('capacity') or '∞'}",
                    "online" if entry.get("online") else "offline",
                    entry.get("lastAssignedAt") or "never",
                    "CHOSEN" if entry.get("chosen") else _reason_text(entry.get("reason")),
                )
                for entry in obj.candidates
            ),
        )
        return format_html(
            "<table><thead><tr><th>Rep</th><th>Via</th><th>Availability</th><th>Open/capacity</th>"
            "<th>Presence</th><th>Last assigned</th><th>Result</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )


@admin.register(WaitingTicket)
class WaitingTicketAdmin(_ReadOnlyAdmin):
    list_display = ("ticket", "channel_account", "since")
    list_select_related = ("ticket", "channel_account")


@admin.register(Notification)
class NotificationAdmin(_ReadOnlyAdmin):
    list_display = ("id", "user", "kind", "ticket", "created_at", "read_at", "email_status")
    list_filter = ("kind", "email_status")
    list_select_related = ("user", "ticket")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return super().get_queryset(request).select_related("user", "ticket")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "enabled")
    list_filter = ("kind", "enabled")
    list_select_related = ("user",)
