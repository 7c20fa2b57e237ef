"""Contacts, pipelines, tickets and their conversations (threads, messages, attachments, files)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse


class Inbox(models.Model):
    """Where channel accounts deliver their conversations; a fresh install has one help desk."""

    class Type(models.TextChoices):
        HELP_DESK = "HELP_DESK", "Help desk"
        INBOX = "INBOX", "Inbox"

    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.HELP_DESK)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "inboxes"

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A customer. Identified by its ``ContactIdentifier`` rows (email, phone, opaque ids)."""

    name = models.CharField(max_length=300, blank=True, default="")
    email = models.EmailField(max_length=320, blank=True, default="")
    phone = models.CharField(max_length=32, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_contacts",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"Contact {self.pk}"


class ContactIdentifier(models.Model):
    """How a contact is reached: a normalised email, an E.164 phone, or a channel's opaque id.

    Emails and phones are global (any channel finds the same contact); opaque ids only mean
    something inside their channel, so they are unique per channel.
    """

    class Kind(models.TextChoices):
        EMAIL = "HS_EMAIL_ADDRESS", "Email address"
        PHONE = "HS_PHONE_NUMBER", "Phone number"
        OPAQUE = "CHANNEL_SPECIFIC_OPAQUE_ID", "Channel-specific id"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    value = models.CharField(max_length=320)
    channel = models.ForeignKey(
        "channels_app.CustomChannel",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"],
                condition=Q(channel__isnull=True),
                name="contact_identifier_unique_global",
            ),
            models.UniqueConstraint(
                fields=["kind", "channel", "value"],
                condition=Q(channel__isnull=False),
                name="contact_identifier_unique_per_channel",
            ),
            models.CheckConstraint(
                condition=Q(kind="CHANNEL_SPECIFIC_OPAQUE_ID", channel__isnull=False)
                | (~Q(kind="CHANNEL_SPECIFIC_OPAQUE_ID") & Q(channel__isnull=True)),
                name="contact_identifier_opaque_has_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Pipeline(models.Model):
    name = models.CharField(max_length=200, unique=True)
    is_default = models.BooleanField(default=False)
    display_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_pipeline"
            )
        ]

    def __str__(self) -> str:
        return self.name


class TicketState(models.TextChoices):
    OPEN = "OPEN", "Open"
    CLOSED = "CLOSED", "Closed"


class TicketPriority(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"
    URGENT = "URGENT", "Urgent"


class TicketCategory(models.TextChoices):
    PRODUCT_ISSUE = "PRODUCT_ISSUE", "Product issue"
    BILLING_ISSUE = "BILLING_ISSUE", "Billing issue"
    FEATURE_REQUEST = "FEATURE_REQUEST", "Feature request"
    GENERAL_INQUIRY = "GENERAL_INQUIRY", "General inquiry"


class PipelineStatus(models.Model):
    """A stage of a pipeline. ``required_properties`` names ticket fields (priority, category…)
    that must be set before a ticket enters this status (a conditional stage)."""

    REQUIRABLE_PROPERTIES = ("priority", "category", "name", "owner")

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="statuses")
    name = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=TicketState.choices, default=TicketState.OPEN)
    display_order = models.PositiveIntegerField(default=0)
    required_properties = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["pipeline_id", "display_order", "id"]
        verbose_name_plural = "pipeline statuses"
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="pipeline_status_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name}: {self.name}" if self.pipeline_id else self.name

    @property
    def required_property_names(self) -> list[str]:
        """The properties a ticket needs before it enters this status (the known ones)."""
        return [n for n in self.required_properties or [] if n in self.REQUIRABLE_PROPERTIES]


def ticket_activity() -> Coalesce:
    """A ticket's place in the inbox: its last message, or its creation before any message.

    Never NULL, so the lists' cursor is a plain (activity, id) pair; the same expression is in
    the ticket indexes, which PostgreSQL matches only when a query repeats it exactly.
    """
    return Coalesce(F("last_message_at"), F("created_at"))


class Ticket(models.Model):
    name = models.CharField(max_length=300)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="tickets")
    status = models.ForeignKey(PipelineStatus, on_delete=models.PROTECT, related_name="tickets")
    # Denormalised from ``status.state`` so open/closed lists need no join; set by services.
    state = models.CharField(max_length=10, choices=TicketState.choices, default=TicketState.OPEN)
    priority = models.CharField(
        max_length=10, choices=TicketPriority.choices, blank=True, default=""
    )
    category = models.CharField(
        max_length=30, choices=TicketCategory.choices, blank=True, default=""
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_tickets",
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets")
    channel_account = models.ForeignKey(
        "channels_app.ChannelAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The inbox lists (tickets.inbox): newest activity first, then id, as the cursor.
            # "Unassigned" and "Assigned to me" filter on (state, owner); "All open", "Closed"
            # on state; search and custom views walk the whole activity order.
            models.Index(
                F("state"),
                F("owner"),
                ticket_activity().desc(),
                F("id").desc(),
                name="ticket_inbox_owner_idx",
            ),
            models.Index(
                F("state"), ticket_activity().desc(), F("id").desc(), name="ticket_inbox_state_idx"
            ),
            models.Index(
                ticket_activity().desc(), F("id").desc(), name="ticket_inbox_activity_idx"
            ),
            models.Index(fields=["contact", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    def get_absolute_url(self) -> str:
        """The ticket's conversation in the inbox."""
        return reverse("inbox-ticket", args=[self.pk])


class Thread(models.Model):
    """A ticket's conversation with one contact through one channel account.

    ``threading_key`` is how inbound messages find their thread: ``t:<integrationThreadId>``
    for INTEGRATION_THREAD_ID channels, ``d:<contact identifier id>`` for DELIVERY_IDENTIFIER
    ones, NULL when every message starts its own thread. At most one *open* thread holds a key
    per account; closing the ticket closes the thread, so the next message opens a new one.
    """

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="thread")
    channel_account = models.ForeignKey(
        "channels_app.ChannelAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="threads",
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="threads")
    contact_identifier = models.ForeignKey(
        ContactIdentifier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    integration_thread_id = models.CharField(max_length=500, null=True, blank=True)
    threading_key = models.CharField(max_length=520, null=True, blank=True)
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "threading_key"],
                condition=Q(is_open=True, threading_key__isnull=False),
                name="thread_one_open_per_threading_key",
            )
        ]

    def __str__(self) -> str:
        return f"Thread {self.pk}"


class MessageDirection(models.TextChoices):
    INCOMING = "INCOMING", "Incoming"
    OUTGOING = "OUTGOING", "Outgoing"


class MessageStatus(models.TextChoices):
    RECEIVED = "RECEIVED", "Received"
    PENDING = "PENDING", "Sending"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed"
    READ = "READ", "Read"


class Message(models.Model):
    """One message of a thread, inbound from a contact or outbound from a rep or the app."""

    class Medium(models.TextChoices):
        CUSTOM_CHANNEL = "CUSTOM_CHANNEL", "Custom channel"
        EMAIL = "EMAIL", "Email"
        CALL = "CALL", "Logged call"

    class ClientType(models.TextChoices):
        HUBSPOT = "HUBSPOT", "Help desk"
        INTEGRATION = "INTEGRATION", "Integration"
        SYSTEM = "SYSTEM", "System"
        UNKNOWN = "UNKNOWN", "Unknown"

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    # Denormalised from the thread so ticket-level queries need no join. No index of its own:
    # the (ticket, timestamp, id) index serves every lookup by ticket, and each index is work
    # for every message stored.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    channel = models.ForeignKey(
        "channels_app.CustomChannel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    channel_account = models.ForeignKey(
        "channels_app.ChannelAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    medium = models.CharField(max_length=20, choices=Medium.choices, default=Medium.CUSTOM_CHANNEL)
    direction = models.CharField(max_length=10, choices=MessageDirection.choices)
    text = models.TextField(blank=True, default="")
    rich_text = models.TextField(blank=True, default="")
    # What the medium adds: a logged call's ``{"durationSeconds", "outcome"}``, an email's
    # ``{"subject"}``. Custom-channel messages have none (the API never shows this).
    details = models.JSONField(default=dict, blank=True)
    senders = models.JSONField(default=list)
    recipients = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    failure_reason = models.TextField(blank=True, default="")
    in_reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    integration_idempotency_id = models.CharField(max_length=500, null=True, blank=True)
    client_type = models.CharField(max_length=20, choices=ClientType.choices)
    app = models.ForeignKey(
        "channels_app.App", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the message happened, as the app reported it; ``created_at`` is when we stored it.
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "integration_idempotency_id"],
                condition=Q(integration_idempotency_id__isnull=False),
                name="message_unique_integration_idempotency_id",
            )
        ]
        indexes = [models.Index(fields=["ticket", "timestamp", "id"])]

    def __str__(self) -> str:
        return f"Message {self.pk} ({self.direction})"

    @property
    def created_by(self) -> str:
        """HubSpot's actor id of who wrote it: ``A-`` a rep, ``V-`` a contact, ``I-`` an app."""
        if self.sender_user_id:
            return f"A-{self.sender_user_id}"
        if self.direction == MessageDirection.INCOMING and self.sender_contact_id:
            return f"V-{self.sender_contact_id}"
        if self.app_id:
            return f"I-{self.app_id}"
        return "S-system"


class File(models.Model):
    """An uploaded file (``POST /files/v3/files``), stored through Django's storage API.

    ``content_type`` is sniffed from the bytes on upload, never taken from the client.
    """

    app = models.ForeignKey(
        "channels_app.App", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to="files/%Y/%m/%d/")
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Attachment(models.Model):
    """One attachment of a message: a FILE (with its usage type) or structured content."""

    class Type(models.TextChoices):
        FILE = "FILE", "File"
        LOCATION = "LOCATION", "Location"
        CONTACT = "CONTACT", "Contact card"
        QUICK_REPLIES = "QUICK_REPLIES", "Quick replies"
        UNSUPPORTED_CONTENT = "UNSUPPORTED_CONTENT", "Unsupported content"

    class FileUsageType(models.TextChoices):
        AUDIO = "AUDIO", "Audio"
        IMAGE = "IMAGE", "Image"
        STICKER = "STICKER", "Sticker"
        VOICE_RECORDING = "VOICE_RECORDING", "Voice recording"
        OTHER = "OTHER", "Other"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveIntegerField(default=0)
    type = models.CharField(max_length=30, choices=Type.choices)
    file = models.ForeignKey(
        File, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments"
    )
    file_usage_type = models.CharField(
        max_length=20, choices=FileUsageType.choices, blank=True, default=""
    )
    # The structured content of non-FILE attachments, as the app sent it.
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["message_id", "position"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(type="FILE") | Q(file__isnull=False), name="file_attachment_has_file"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} of message {self.message_id}"


class IdempotencyRecord(models.Model):
    """An ``Idempotency-Key`` an app used, with a hash of the request it answered.

    Replaying the same key with the same body returns ``message``; a different body is a 422.
    """

    app = models.ForeignKey("channels_app.App", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "key"], name="idempotency_record_unique_key")
        ]

    def __str__(self) -> str:
        return f"Idempotency-Key of app {self.app_id} → message {self.message_id}"


class LiveEvent(models.Model):
    """One change the reps' open inboxes show without a reload (I8), or one rep's notification.

    The id is the event's sequence number: it only grows (SQLite's AUTOINCREMENT, PostgreSQL's
    sequence), so a page that reconnects asks for the events after the last one it saw
    (``tickets.live``, ``/inbox/live/events/?after=``). ``user_id`` None is for every signed-in
    rep; a notification's event names its one rep. Ticket, message, owner and user are plain
    ids, not foreign keys: an event is a log line and its insert takes no lock on the rows it
    names. Old events are pruned by the periodic ``tickets.live_events_prune`` task
    (``LIVE_EVENT_RETENTION_SECONDS``, a day by default): a page away longer reloads anyway.
    """

    class Kind(models.TextChoices):
        TICKET_CREATED = "ticket.created", "Ticket created"
        MESSAGE_CREATED = "message.created", "Message created"
        TICKET_ASSIGNED = "ticket.assigned", "Ticket assigned"
        TICKET_STATUS_CHANGED = "ticket.status_changed", "Ticket status changed"
        MESSAGE_STATUS_CHANGED = "message.status_changed", "Delivery status changed"
        NOTIFICATION_CREATED = "notification.created", "Notification created"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    ticket_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    owner_id = models.BigIntegerField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        # A freshly loaded page asks for the events since it was rendered; pruning by age.
        indexes = [models.Index(fields=["created_at"], name="live_event_created_at")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} ticket {self.ticket_id}"


class SavedView(models.Model):
    """A custom inbox view (SPEC I1): a search's filters saved under a name.

    Private views are seen by their owner only; shared views by every rep, and only the owner
    changes or deletes them. ``filters`` holds what ``tickets.inbox_filters.inbox_filters_clean``
    accepts (``q``, ``channel``, ``account``, ``status``, ``owner``, ``priority``, ``from``,
    ``to``); the services validate it before storing.
    """

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    shared = models.BooleanField(default=False)
    filters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_unique_name")
        ]
        indexes = [models.Index(fields=["shared", "name"])]

    def __str__(self) -> str:
        return self.name


class TicketChange(models.Model):
    """One change of a ticket's property, for the history on the ticket page.

    Written by the services that change them (``ticket_update``, ``ticket_set_status``);
    ``old_value`` and ``new_value`` are what people read (a status's name, not its id), kept as
    they were, so renaming a status later does not rewrite history. ``by`` is None for changes
    nobody made by hand. Ownership is in ``routing.AssignmentDecision`` (with its explanation).
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="changes")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    field = models.CharField(max_length=30)
    old_value = models.CharField(max_length=300, blank=True, default="")
    new_value = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["ticket", "-id"])]

    def __str__(self) -> str:
        return f"Ticket {self.ticket_id}: {self.field} {self.old_value!r} → {self.new_value!r}"
