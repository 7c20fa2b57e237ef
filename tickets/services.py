"""Writes of tickets and their conversations, with ``tickets.publish`` (an app's message, its
thread and ticket) the only places that change them.

``message_status_update`` records what the app says about a message it delivered;
``ticket_set_status`` moves a ticket between statuses (closing it closes its thread);
``ticket_update`` changes a ticket's properties from the ticket page, keeping their history;
``file_create`` stores an upload; ``rich_text_clean`` keeps the HTML a channel allows.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import nh3
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_app.models import App
from helpdesk.api_errors import ApiError, Conflict, PayloadTooLarge, error_item
from routing.services import backlog_drain_schedule  # routing: R2 backlog
from tickets.files import (
    content_type_sniff_file,
    file_name_clean,
)
from tickets.live import live_event_publish, live_message_statuses_publish
from tickets.models import (
    File,
    LiveEvent,
    Message,
    MessageDirection,
    MessageStatus,
    Pipeline,
    PipelineStatus,
    Thread,
    Ticket,
    TicketCategory,
    TicketChange,
    TicketPriority,
    TicketState,
)

TICKET_NAME_MAX_LENGTH = 300


# --- Rich text ------------------------------------------------------------------------------

# HubSpot's richText capabilities and the HTML each one allows.
_RICH_TEXT_TAGS = {
    "HYPERLINK": {"a"},
    "BOLD": {"b", "strong"},
    "ITALIC": {"i", "em"},
    "BLOCKQUOTE": {"blockquote"},
    "LISTS": {"ul", "ol", "li"},
}
# Paragraphs and line breaks are structure, not formatting: every channel keeps them.
_RICH_TEXT_BASE_TAGS = {"p", "br"}


def rich_text_clean(html: str, capabilities: dict[str, Any]) -> str:
    """Sanitised HTML: only the formatting the channel declares (``capabilities.richText``),
    links to http(s)/mailto/tel only, no scripts, styles beyond ``text-align`` or handlers."""
    if not html:
        return ""
    features = set(capabilities.get("richText") or [])
    tags = set(_RICH_TEXT_BASE_TAGS)
    for feature in features:
        tags |= _RICH_TEXT_TAGS.get(feature, set())
    attributes: dict[str, set[str]] = {"a": {"href", "title"}} if "a" in tags else {}
    style_properties: set[str] | None = None
    if "TEXT_ALIGNMENT" in features:
        for tag in ("p", "blockquote", "li"):
            attributes.setdefault(tag, set()).add("style")
        style_properties = {"text-align"}
    if capabilities.get("allowInlineImages"):
        tags.add("img")
        attributes["img"] = {"src", "alt", "title"}
    return nh3.clean(
        html,
        tags=tags,
        attributes=attributes,
        url_schemes={"http", "https", "mailto", "tel"},
        filter_style_properties=style_properties,
        link_rel="noopener noreferrer nofollow",
    )


@transaction.atomic
def ticket_set_status(*, ticket: Ticket, status: PipelineStatus, by: Any = None) -> Ticket:
    """Moves a ticket to a status of its pipeline; a closed state closes its thread, so the
    contact's next message starts a new ticket. Reopening reopens the thread unless a newer
    open thread took over its conversation. A change is kept in the ticket's history
    (``TicketChange``, made ``by`` a user or, with None, by nobody in particular).

    Locks the thread, then the ticket (the order ``message_publish_inbound`` uses).
    Raises ``ApiError`` for a status of another pipeline or a missing required property.
    """
    if status.pipeline_id != ticket.pipeline_id:
        raise ApiError(
            "The status is not in the ticket's pipeline.",
            errors=[
                error_item("status", "is not a status of the ticket's pipeline", "INVALID_ENUM")
            ],
        )
    thread = Thread.objects.select_for_update().filter(ticket=ticket).first()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    missing = ticket_required_properties_missing(ticket=ticket, status=status)
    if missing:
        raise ApiError(
            f"The status {status.name} requires: {', '.join(missing)}.",
            errors=[error_item(name, "is required by this status", "REQUIRED") for name in missing],
        )
    closing = status.state == TicketState.CLOSED
    status_changed = ticket.status_id != status.pk
    if status_changed:
        previous_name = (
            PipelineStatus.objects.filter(pk=ticket.status_id)
            .values_list("name", flat=True)
            .first()
        )
        TicketChange.objects.create(
            ticket=ticket,
            by=by,
            field="status",
            old_value=previous_name or "",
            new_value=status.name,
        )
    # Routing (R2): closing an open ticket frees its owner's capacity; drain after commit.
    if closing and ticket.state != TicketState.CLOSED and ticket.owner_id is not None:
        backlog_drain_schedule(user_id=ticket.owner_id)
    ticket.status = status
    ticket.state = status.state
    ticket.closed_at = (ticket.closed_at or timezone.now()) if closing else None
    ticket.save(update_fields=["status", "state", "closed_at", "updated_at"])
    if status_changed:
        live_event_publish(
            kind=LiveEvent.Kind.TICKET_STATUS_CHANGED,
            ticket=ticket,
            data={"statusId": status.pk, "status": status.name, "state": status.state},
        )
    if thread is not None and thread.is_open == closing:
        try:
            with transaction.atomic():
                Thread.objects.filter(pk=thread.pk).update(is_open=not closing)
        except IntegrityError:
            pass  # A newer open thread holds the conversation; this one stays closed.
    return ticket


# --- Message status -------------------------------------------------------------------------


@transaction.atomic
def message_status_update(
    *, message: Message, status_type: str | None, error_message: str | None = None
) -> Message:
    """Records the app's delivery status of an OUTGOING message (SENT, FAILED or READ).

    ``None`` leaves a field unchanged (HubSpot's SDKs send every field). FAILED keeps
    ``error_message`` as the reason the rep sees; SENT and READ clear it. Locks the message.
    Raises ``Conflict`` for an INCOMING message: it has no delivery status to report.
    """
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.direction != MessageDirection.OUTGOING:
        raise Conflict("Only OUTGOING messages have a delivery status; this one is INCOMING.")
    if status_type is None:
        return message
    previous = (message.status, message.failure_reason)
    message.status = status_type
    if status_type == MessageStatus.FAILED:
        if error_message is not None:
            message.failure_reason = error_message
    else:
        message.failure_reason = ""
    message.save(update_fields=["status", "failure_reason", "updated_at"])
    if (message.status, message.failure_reason) != previous:
        # Live (I8): the delivery status changes next to the reply in open conversations.
        live_message_statuses_publish(
            changed=[(message.pk, message.ticket_id)],
            status=message.status,
            failure_reason=message.failure_reason,
        )
    return message


def message_statuses_move(
    message_ids: list[int],
    *,
    from_statuses: list[str],
    status: str,
    now: datetime,
    reason: str = "",
) -> None:
    """Moves the messages still in one of ``from_statuses`` to ``status`` (delivery outcomes
    and Redeliver, from ``channels_app.deliveries``), and tells open inboxes
    (``message.status_changed``). Locks those messages first, so the events name exactly the
    ones that changed: a lock, an update and one insert, whatever their number."""
    changed = list(
        Message.objects.select_for_update(of=("self",))
        .filter(pk__in=message_ids, status__in=from_statuses)
        .values_list("pk", "ticket_id")
    )
    if not changed:
        return
    Message.objects.filter(pk__in=[pk for pk, _ in changed]).update(
        status=status, failure_reason=reason, updated_at=now
    )
    live_message_statuses_publish(changed=changed, status=status, failure_reason=reason)


# --- Files ----------------------------------------------------------------------------------


@transaction.atomic
def file_create(
    *, app: App | None, upload: UploadedFile, uploaded_by_id: int | None = None
) -> File:
    """Stores an upload with the type sniffed from its bytes; the client's type is ignored.

    Raises ``PayloadTooLarge`` above ``FILE_UPLOAD_MAX_BYTES``. The stored name is random (the
    display name is kept apart), so no client-chosen path reaches the storage.
    """
    size = int(upload.size or 0)
    if size > settings.FILE_UPLOAD_MAX_BYTES:
        raise PayloadTooLarge(
            f"The file is larger than the server's limit of {settings.FILE_UPLOAD_MAX_BYTES} bytes."
        )
    content_type = content_type_sniff_file(upload, size)
    file = File(
        app=app,
        uploaded_by_id=uploaded_by_id,
        name=file_name_clean(upload.name),
        size=size,
        content_type=content_type,
    )
    file.file.save(uuid.uuid4().hex, upload, save=False)
    try:
        file.save()
    except Exception:
        file.file.delete(save=False)
        raise
    return file


# --- Ticket properties (the ticket page) ----------------------------------------------------


class _Unchanged(enum.Enum):
    VALUE = "unchanged"


# ``ticket_update(owner=UNCHANGED)`` leaves the owner; ``owner=None`` unassigns.
UNCHANGED = _Unchanged.VALUE


class TicketUpdateRefused(ApiError):
    """Some property values are invalid; ``errors`` name each field (``in``) and why (400)."""


def ticket_lock(ticket: Ticket) -> Ticket:
    """Locks everything a change of the ticket may touch, in the one order every writer uses:
    its routing backlog row, its thread, then the ticket (``routing.services`` locks a backlog
    row before its ticket; ``message_publish_inbound`` a thread before its ticket). Returns
    the locked ticket, re-read. Call inside a transaction."""
    from routing.models import WaitingTicket

    WaitingTicket.objects.select_for_update().filter(ticket_id=ticket.pk).first()
    Thread.objects.select_for_update().filter(ticket_id=ticket.pk).first()
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def ticket_required_properties_missing(
    *, ticket: Ticket, status: PipelineStatus, values: dict[str, Any] | None = None
) -> list[str]:
    """The properties ``status`` requires that the ticket lacks, counting ``values`` (what is
    about to be set: ``{"priority": "HIGH", "owner": <user>}``) over the ticket's own."""
    values = values or {}
    missing = []
    for name in status.required_property_names:
        if name in values:
            present = bool(values[name])
        elif name == "owner":
            present = ticket.owner_id is not None
        else:
            present = bool(getattr(ticket, name, None))
        if not present:
            missing.append(name)
    return missing


def _display(value: Any, choices: Any = None) -> str:
    if value in (None, ""):
        return ""
    if choices is not None:
        return str(dict(choices).get(value, value))
    return str(value)


@transaction.atomic
def ticket_update(
    *,
    ticket: Ticket,
    by: Any,
    name: str | None = None,
    pipeline: Pipeline | None = None,
    status: PipelineStatus | None = None,
    priority: str | None = None,
    category: str | None = None,
    owner: Any = UNCHANGED,
) -> Ticket:
    """Changes a ticket's properties from the ticket page; ``None`` (``UNCHANGED`` for the
    owner) leaves a property as it is, ``""`` clears a priority or category.

    Every value is checked before anything is written, and all problems are raised at once as
    ``TicketUpdateRefused`` with the field of each: an empty or long name, an unknown priority
    or category, a status outside the (new) pipeline, a property the new status requires
    (counting the values being set), a deactivated owner. Locks with ``ticket_lock``. Each
    change is kept as a ``TicketChange`` by ``by``; the owner goes through
    ``routing.ownership.ticket_owner_set`` (decision, notification), the status through
    ``ticket_set_status`` (closing the thread).
    """
    from routing.ownership import OwnerRefused, ticket_owner_set

    errors: list[dict[str, str]] = []
    if name is not None:
        name = name.strip()
        if not name:
            errors.append(error_item("name", "is required", "REQUIRED"))
        elif len(name) > TICKET_NAME_MAX_LENGTH:
            errors.append(
                error_item(
                    "name", f"must be at most {TICKET_NAME_MAX_LENGTH} characters", "TOO_LONG"
                )
            )
    if priority is not None and priority not in ("", *TicketPriority.values):
        errors.append(error_item("priority", "is not a priority", "INVALID_ENUM"))
    if category is not None and category not in ("", *TicketCategory.values):
        errors.append(error_item("category", "is not a category", "INVALID_ENUM"))
    target_pipeline_id = pipeline.pk if pipeline is not None else ticket.pipeline_id
    if pipeline is not None and pipeline.pk != ticket.pipeline_id and status is None:
        errors.append(error_item("status", "choose a status of the new pipeline", "REQUIRED"))
    if status is not None and status.pipeline_id != target_pipeline_id:
        errors.append(
            error_item("status", "is not a status of the ticket's pipeline", "INVALID_ENUM")
        )
    if owner is not UNCHANGED and owner is not None and not owner.is_active:
        errors.append(error_item("owner", "is deactivated and cannot own tickets", "INVALID_ENUM"))
    if status is not None and status.pk != ticket.status_id and not errors:
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if priority is not None:
            values["priority"] = priority
        if category is not None:
            values["category"] = category
        if owner is not UNCHANGED:
            values["owner"] = owner
        for missing in ticket_required_properties_missing(
            ticket=ticket, status=status, values=values
        ):
            errors.append(
                error_item(missing, f"is required by the status {status.name}", "REQUIRED")
            )
    if errors:
        raise TicketUpdateRefused(
            f"The ticket was not saved: {errors[0]['in']} {errors[0]['message']}.", errors=errors
        )

    locked = ticket_lock(ticket)
    changes: list[TicketChange] = []
    fields: list[str] = []

    def change(field: str, new: Any, old: Any, choices: Any = None) -> None:
        if new is None or new == old:
            return
        changes.append(
            TicketChange(
                ticket=locked,
                by=by,
                field=field,
                old_value=_display(old, choices)[:300],
                new_value=_display(new, choices)[:300],
            )
        )
        fields.append(field)

    change("name", name, locked.name)
    change("priority", priority, locked.priority, TicketPriority.choices)
    change("category", category, locked.category, TicketCategory.choices)
    if pipeline is not None and pipeline.pk != locked.pipeline_id:
        old_pipeline = Pipeline.objects.filter(pk=locked.pipeline_id).first()
        change("pipeline", pipeline.name, old_pipeline.name if old_pipeline else "")
        locked.pipeline = pipeline
    if name is not None:
        locked.name = name
    if priority is not None:
        locked.priority = priority
    if category is not None:
        locked.category = category
    if fields:
        TicketChange.objects.bulk_create(changes)
        locked.save(update_fields=[*fields, "updated_at"])
    if owner is not UNCHANGED:
        try:
            locked = ticket_owner_set(ticket=locked, owner=owner, by=by)
        except OwnerRefused as refused:
            raise TicketUpdateRefused(
                str(refused), errors=[error_item("owner", str(refused), "INVALID_ENUM")]
            ) from refused
    if status is not None and status.pk != locked.status_id:
        locked = ticket_set_status(ticket=locked, status=status, by=by)
    return locked
