"""Admin for teams, reps' routing profiles and routing rules."""

from django.contrib import admin

from routing.models import RepProfile, RoutingRule, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "created_at")
    filter_horizontal = ("members",)


@admin.register(RepProfile)
class RepProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "availability", "capacity", "last_assigned_at", "last_seen_at")
    list_filter = ("role", "availability")
    list_select_related = ("user",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("channel_account", "mode", "auto_assign", "pipeline", "starting_status")
    list_select_related = ("channel_account", "pipeline", "starting_status")
    filter_horizontal = ("users", "teams")
