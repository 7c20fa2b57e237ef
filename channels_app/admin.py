"""Admin for apps, tokens, channels and accounts. Secrets and credentials are never displayed:
credential fields show their names with masked values, secrets only whether they are set."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from channels_app.deliveries import RedeliveryRefused, delivery_redeliver, webhook_reenable
from channels_app.models import (
    App,
    AppToken,
    AuditEntry,
    ChannelAccount,
    CustomChannel,
    Delivery,
    DeliveryAttempt,
    StagingToken,
)

MASK = "••••••••"
# Django 6 makes https the scheme a bare "example.com" gets; use it now.
URL_FIELDS_ASSUME_HTTPS: dict[type[models.Field[Any, Any]], dict[str, Any]] = {
    models.URLField: {"assume_scheme": "https"}
}


def masked_credentials(credentials: dict[str, Any]) -> str:
    """``apiKey: ••••••••, region: ••••••••``: which fields are set, never their values."""
    if not credentials:
        return "—"
    return ", ".join(f"{name}: {MASK}" for name in sorted(credentials))


class AppTokenInline(admin.TabularInline):
    model = AppToken
    extra = 0
    can_delete = False
    fields = ("name", "kind", "prefix", "scopes", "created_at", "expires_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = ("id", "name", "client_id", "created_at")
    search_fields = ("name", "client_id")
    fields = ("name", "description", "logo_url", "client_id", "client_secret_masked", "created_at")
    readonly_fields = ("client_id", "client_secret_masked", "created_at")
    inlines = [AppTokenInline]

    @admin.display(description="Client secret")
    def client_secret_masked(self, obj: App) -> str:
        return MASK if obj.client_secret else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Apps are created by ``create_app`` or the settings pages, which show the secrets once.
        return False


@admin.register(AppToken)
class AppTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "app", "kind", "name", "created_at", "expires_at", "revoked_at")
    list_filter = ("kind",)
    list_select_related = ("app",)
    readonly_fields = (
        "app",
        "kind",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_by",
    )
    exclude = ("token_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(CustomChannel)
class CustomChannelAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = ("id", "name", "app", "webhook_url", "archived", "created_at")
    list_filter = ("archived",)
    list_select_related = ("app",)
    search_fields = ("name",)
    exclude = ("signing_secret", "previous_signing_secret")
    readonly_fields = (
        "signing_secret_masked",
        "previous_signing_secret_expires_at",
        "webhook_disabled_at",
        "archived_at",
        "created_at",
        "updated_at",
    )

    actions = ["reenable_webhook"]

    @admin.display(description="Webhook signing secret")
    def signing_secret_masked(self, obj: CustomChannel) -> str:
        return MASK if obj.signing_secret else "—"

    @admin.action(description="Re-enable webhook (after the app answered 410)")
    def reenable_webhook(self, request: HttpRequest, queryset: QuerySet[CustomChannel]) -> None:
        for channel in queryset.exclude(webhook_disabled_at=None):
            webhook_reenable(channel=channel)
        self.message_user(request, "Webhooks re-enabled; pending deliveries go out again.")


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "channel",
        "delivery_identifier_value",
        "authorized",
        "archived",
        "created_at",
    )
    list_filter = ("authorized", "archived")
    list_select_related = ("channel",)
    search_fields = ("name", "delivery_identifier_value")
    exclude = ("credentials",)
    readonly_fields = ("credentials_masked", "archived_at", "created_at", "updated_at")

    @admin.display(description="Credentials")
    def credentials_masked(self, obj: ChannelAccount) -> str:
        return masked_credentials(obj.credentials)


@admin.register(StagingToken)
class StagingTokenAdmin(admin.ModelAdmin):
    list_display = ("id", "channel", "account_name", "created_at", "expires_at", "completed_at")
    list_select_related = ("channel",)
    exclude = ("token_hash",)
    readonly_fields = (
        "channel",
        "inbox",
        "created_by",
        "wizard_state",
        "created_at",
        "expires_at",
        "account_name",
        "channel_account",
        "completed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "started_at",
        "duration_ms",
        "status_code",
        "outcome",
        "error",
        "response_snippet",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Recent deliveries with their attempts; Redeliver goes through ``delivery_redeliver``."""

    list_display = (
        "id",
        "event_type",
        "channel",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    list_select_related = ("channel",)
    search_fields = ("event_id",)
    readonly_fields = [field.name for field in Delivery._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Redeliver (same event id)")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        sent = 0
        for delivery in queryset:
            try:
                delivery_redeliver(delivery=delivery)
            except RedeliveryRefused as refused:
                self.message_user(request, f"Delivery {delivery.pk}: {refused}", messages.WARNING)
            else:
                sent += 1
        if sent:
            self.message_user(request, f"{sent} deliveries will be sent again.", messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is written by the services, never edited."""

    list_display = ("created_at", "action", "actor", "target", "channel", "channel_account")
    list_filter = ("action",)
    list_select_related = ("actor", "channel", "channel_account")
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
