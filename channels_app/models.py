"""Apps (external integrations), their tokens, custom channels and connected channel accounts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from helpdesk.encryption import EncryptedJSONField, EncryptedTextField


class App(models.Model):
    """An external integration (HubSpot's "public app"); owns custom channels.

    ``client_secret`` signs HubSpot v3 webhooks, so it is kept encrypted rather than hashed;
    the developer API key (``hapikey``) is only ever compared, so it is hashed.

    Installation (SPEC C7, ``channels_app.installs``): an app is installed while
    ``installed_at`` is set. An app an admin creates (``create_app``, the apps page) is installed
    at once, like HubSpot's private apps; approving the OAuth consent page installs it again
    after an uninstall. Only installed apps' tokens authenticate and only their channels are
    offered in the connect wizard.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    logo_url = models.URLField(max_length=2000, blank=True, default="")
    client_id = models.CharField(max_length=64, unique=True)
    client_secret = EncryptedTextField()
    developer_api_key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The OAuth 2.0 client (django-oauth-toolkit) with the same client id, a hashed copy of the
    # client secret and the registered redirect URIs; none until redirect URIs are registered.
    oauth_application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="app",
    )
    installed_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    # The last approval of the consent page (install or re-authorisation) and who gave it.
    authorized_at = models.DateTimeField(null=True, blank=True)
    authorized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} (app {self.pk})"

    @property
    def is_installed(self) -> bool:
        return self.installed_at is not None

    # DRF treats the authenticated principal as ``request.user``; an app is always authenticated.
    @property
    def is_authenticated(self) -> bool:
        return True


class AppToken(models.Model):
    """A bearer token of an app, stored as its SHA-256 (tokens carry ≥128 bits of randomness)."""

    class Kind(models.TextChoices):
        STATIC = "STATIC", "Static (private-app style)"
        OAUTH_ACCESS = "OAUTH_ACCESS", "OAuth access token"

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=200, blank=True, default="")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.STATIC)
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters, so an admin can tell tokens apart without seeing them.
    prefix = models.CharField(max_length=16)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.app_id})"


class CustomChannel(models.Model):
    """A messaging service registered by an app (HubSpot's custom channel)."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    logo_url = models.URLField(max_length=2000, blank=True, default="")
    webhook_url = models.URLField(max_length=2000, blank=True, default="")
    account_connection_redirect_url = models.URLField(max_length=2000, blank=True, default="")
    capabilities = models.JSONField(default=dict)
    connection_fields = models.JSONField(default=list)
    signing_secret = EncryptedTextField()
    # During a rotation the previous secret keeps signing until it expires (24 h).
    previous_signing_secret = EncryptedTextField(blank=True, default="")
    previous_signing_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Set when the app answered 410 Gone; an admin re-enables the webhook.
    webhook_disabled_at = models.DateTimeField(null=True, blank=True)
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["app", "id"])]

    def __str__(self) -> str:
        return self.name

    @property
    def threading_model(self) -> str:
        return str(self.capabilities.get("threadingModel") or "INTEGRATION_THREAD_ID")


class DeliveryIdentifierType(models.TextChoices):
    EMAIL = "HS_EMAIL_ADDRESS", "Email address"
    PHONE = "HS_PHONE_NUMBER", "Phone number"
    OPAQUE = "CHANNEL_SPECIFIC_OPAQUE_ID", "Channel-specific id"


class ChannelAccount(models.Model):
    """One connected account of a custom channel (a phone number, a bot, a workspace…).

    Deactivation (``authorized = False``) refuses inbound messages with 409 and disables replies;
    archiving (deletion) makes the account invisible to the API (404).
    """

    channel = models.ForeignKey(CustomChannel, on_delete=models.CASCADE, related_name="accounts")
    inbox = models.ForeignKey("tickets.Inbox", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    delivery_identifier_type = models.CharField(
        max_length=40, choices=DeliveryIdentifierType.choices, blank=True, default=""
    )
    delivery_identifier_value = models.CharField(max_length=320, blank=True, default="")
    authorized = models.BooleanField(default=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["channel", "id"]),
            models.Index(fields=["delivery_identifier_type", "delivery_identifier_value"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel_id})"

    @property
    def active(self) -> bool:
        """Accepts messages: authorized, not archived, its channel not archived and the
        channel's app installed (reads ``channel.app``: join ``channel__app``)."""
        return (
            self.authorized
            and not self.archived
            and not self.channel.archived
            and self.channel.app.is_installed
        )

    @property
    def delivery_identifier(self) -> dict[str, Any] | None:
        if not self.delivery_identifier_type:
            return None
        return {"type": self.delivery_identifier_type, "value": self.delivery_identifier_value}


class StagingToken(models.Model):
    """A connection started in the settings UI and completed by the app's own page.

    The token travels in the redirect URL; only its SHA-256 is stored. ``wizard_state`` keeps
    what the admin chose (routing, ticket properties) until the app completes the connection.
    """

    channel = models.ForeignKey(CustomChannel, on_delete=models.CASCADE, related_name="+")
    inbox = models.ForeignKey("tickets.Inbox", on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    wizard_state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    account_name = models.CharField(max_length=200, blank=True, default="")
    channel_account = models.OneToOneField(
        ChannelAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(channel_account__isnull=False),
                name="staging_token_completed_has_account",
            )
        ]

    def __str__(self) -> str:
        return f"Staging token {self.pk} of channel {self.channel_id}"


class Delivery(models.Model):
    """One event to deliver to a channel's webhook: the outbox row and the source of truth.

    Written in the same transaction as what caused it (a reply, an account change). Celery only
    wakes workers; a worker *claims* a due delivery with a conditional update that sets a lease,
    so a killed worker's delivery is reclaimed by the sweeper once the lease expires.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERING = "delivering", "Delivering"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class EventType(models.TextChoices):
        OUTGOING_CHANNEL_MESSAGE_CREATED = "OUTGOING_CHANNEL_MESSAGE_CREATED", "Reply"
        CHANNEL_ACCOUNT_CREATED = "CHANNEL_ACCOUNT_CREATED", "Account connected"
        CHANNEL_ACCOUNT_UPDATED = "CHANNEL_ACCOUNT_UPDATED", "Account changed"
        CHANNEL_ACCOUNT_PURGED = "CHANNEL_ACCOUNT_PURGED", "Account deleted"

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    channel = models.ForeignKey(CustomChannel, on_delete=models.CASCADE, related_name="deliveries")
    channel_account = models.ForeignKey(
        ChannelAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        "tickets.Message",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # The event body as it was when the event happened (file URLs are re-signed per attempt).
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due_pending",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="delivering"),
                name="delivery_leased",
            ),
            models.Index(fields=["channel", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP attempt of a delivery: when, how long, what the app answered."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        RETRY = "retry", "Will retry"
        FAILED = "failed", "Failed (final)"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_snippet = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}"


class AuditEntry(models.Model):
    """One admin change to channels, channel accounts or tokens (SPEC O4): who, when, what.

    Written by ``channels_app.audit.audit_record`` in the transaction of the change it records.
    ``changes`` holds the changed settings (names and ids), never credentials or secrets;
    ``target`` describes the object as it was named then, so the entry stays readable after the
    object is deleted or renamed.
    """

    class Action(models.TextChoices):
        CONNECT = "connect", "Connected"
        EDIT = "edit", "Edited"
        DEACTIVATE = "deactivate", "Deactivated"
        REACTIVATE = "reactivate", "Reactivated"
        DELETE = "delete", "Deleted"
        TOKEN_CREATE = "token_create", "Token created"
        TOKEN_REVOKE = "token_revoke", "Token revoked"
        SECRET_ROTATE = "secret_rotate", "Signing secret rotated"
        APP_CREATE = "app_create", "App created"
        APP_UNINSTALL = "app_uninstall", "App uninstalled"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    target = models.CharField(max_length=500)
    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.ForeignKey(
        CustomChannel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel_account = models.ForeignKey(
        ChannelAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["-created_at", "-id"]),
            models.Index(fields=["action", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.target}"
