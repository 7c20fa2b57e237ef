"""Reads of tickets' conversations for the API, pages and tasks, with their related data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet

from channels_app.models import App, CustomChannel
from helpdesk.api_fields import parse_id
from tickets.models import (
    Attachment,
    Contact,
    ContactIdentifier,
    File,
    LiveEvent,
    Message,
    Pipeline,
    PipelineStatus,
    Ticket,
    TicketChange,
)


def attachments_prefetch() -> Prefetch:
    """What rendering a message needs of its attachments: the rows and their files, one query."""
    return Prefetch("attachments", queryset=Attachment.objects.select_related("file"))


def message_list_for_api(ids: Iterable[int]) -> QuerySet[Message]:
    """Messages by id with everything ``message_to_api`` reads (two queries for any count)."""
    return Message.objects.filter(pk__in=list(ids)).prefetch_related(attachments_prefetch())


def message_get_for_channel(*, channel: CustomChannel, message_id: str) -> Message | None:
    """A message of ``channel`` by its API id (None when malformed, missing or elsewhere)."""
    pk = parse_id(message_id, "messageId")
    if pk is None:
        return None
    return (
        Message.objects.filter(channel=channel, pk=pk)
        .prefetch_related(attachments_prefetch())
        .first()
    )


def file_map_for_app(*, app: App, ids: Iterable[int]) -> dict[int, File]:
    """The app's files among ``ids``, by id; other apps' files are absent as if unknown."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {file.pk: file for file in File.objects.filter(app=app, pk__in=wanted)}


def file_get(*, file_id: int) -> File | None:
    return File.objects.filter(pk=file_id).first()


# --- Live events (I8) -----------------------------------------------------------------------

LIVE_EVENT_PAGE_SIZE = 200


def live_event_list_for_user(
    *,
    user: Any,
    after: int | None = None,
    since: datetime | None = None,
    limit: int = LIVE_EVENT_PAGE_SIZE,
) -> list[LiveEvent]:
    """The events ``user`` may see (everyone's, and their own notifications), oldest first:
    those after sequence ``after``, else those created at or after ``since``. At most
    ``limit`` (one query); the caller asks again after the last one for more."""
    events = LiveEvent.objects.filter(Q(user_id__isnull=True) | Q(user_id=user.pk))
    if after is not None:
        events = events.filter(pk__gt=after)
    elif since is not None:
        events = events.filter(created_at__gte=since)
    return list(events.order_by("id")[:limit])


def live_event_last_seq() -> int:
    """The newest event's sequence number (0 when there is none)."""
    return LiveEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- The conversation and ticket pages (I3) -------------------------------------------------

# The conversation page shows the newest messages; "Show earlier messages" fetches more.
CONVERSATION_PAGE_SIZE = 100
PREVIOUS_CONVERSATIONS_LIMIT = 10


def ticket_get_for_conversation(*, ticket_id: int) -> Ticket | None:
    """A ticket with everything its pages show of it, in one query: contact and its owner,
    owner, pipeline, status, source channel account and channel, thread (with its account,
    channel and contact identifier)."""
    return (
        Ticket.objects.select_related(
            "contact__owner",
            "owner",
            "pipeline",
            "status",
            "channel_account__channel",
            "thread__channel_account__channel",
            "thread__contact_identifier",
        )
        .filter(pk=ticket_id)
        .first()
    )


def _conversation_messages() -> QuerySet[Message]:
    return Message.objects.select_related(
        "sender_user", "in_reply_to__sender_user"
    ).prefetch_related(attachments_prefetch())


def message_list_for_conversation(
    *,
    ticket_id: int,
    after_id: int | None = None,
    before_id: int | None = None,
    limit: int | None = None,
) -> tuple[list[Message], bool]:
    """A page of the ticket's thread, oldest first, and whether earlier messages exist.

    Without ``after_id``: the newest ``limit`` (``CONVERSATION_PAGE_SIZE``) messages (before the message ``before_id``, in
    the thread's order, when given). With ``after_id``: up to ``limit`` messages stored after
    that one (higher ids: what a live update fetches). Two queries (messages with their author
    and replied-to message; attachments with files), three with ``before_id``.
    """
    limit = limit or CONVERSATION_PAGE_SIZE
    messages = _conversation_messages().filter(ticket_id=ticket_id)
    if after_id is not None:
        return list(messages.filter(pk__gt=after_id).order_by("timestamp", "id")[:limit]), False
    if before_id is not None:
        anchor = Message.objects.filter(ticket_id=ticket_id, pk=before_id).values("timestamp")
        stamp = anchor.first()
        if stamp is None:
            return [], False
        messages = messages.filter(
            Q(timestamp__lt=stamp["timestamp"]) | Q(timestamp=stamp["timestamp"], pk__lt=before_id)
        )
    newest = list(messages.order_by("-timestamp", "-id")[: limit + 1])
    has_earlier = len(newest) > limit
    return list(reversed(newest[:limit])), has_earlier


def message_get_for_conversation(*, ticket_id: int, message_id: int) -> Message | None:
    """One message of the ticket as the thread shows it (two queries)."""
    return _conversation_messages().filter(ticket_id=ticket_id, pk=message_id).first()


def ticket_list_for_contact(
    *, contact: Contact, exclude_ticket_id: int, limit: int = PREVIOUS_CONVERSATIONS_LIMIT
) -> list[Ticket]:
    """The contact's other tickets, newest first, with their status (one query)."""
    return list(
        Ticket.objects.filter(contact=contact)
        .exclude(pk=exclude_ticket_id)
        .select_related("status")
        .order_by("-created_at", "-id")[:limit]
    )


def contact_ids_in_channel(*, contact: Contact, channel_id: int | None) -> list[str]:
    """The contact's channel-specific ids in the ticket's channel (one query; none without a
    channel): how the app knows the customer when there is no email or phone."""
    if channel_id is None:
        return []
    return list(
        ContactIdentifier.objects.filter(
            contact=contact, channel_id=channel_id, kind=ContactIdentifier.Kind.OPAQUE
        )
        .order_by("pk")
        .values_list("value", flat=True)
    )


def user_list_for_owner_menu() -> list[Any]:
    """Who can own a ticket: the active users, by name (one query)."""
    return list(
        get_user_model()
        .objects.filter(is_active=True)
        .order_by("first_name", "last_name", "username")
    )


def pipeline_status_list(*, pipeline_id: int) -> list[PipelineStatus]:
    """A pipeline's statuses in order (one query)."""
    return list(
        PipelineStatus.objects.filter(pipeline_id=pipeline_id).order_by("display_order", "id")
    )


def pipeline_list_with_statuses() -> list[Pipeline]:
    """Every pipeline with its statuses in order (two queries)."""
    return list(
        Pipeline.objects.prefetch_related(
            Prefetch("statuses", queryset=PipelineStatus.objects.order_by("display_order", "id"))
        ).order_by("display_order", "id")
    )


def ticket_change_list(*, ticket_id: int) -> list[TicketChange]:
    """A ticket's property changes, newest first, with who made them (one query)."""
    return list(TicketChange.objects.filter(ticket_id=ticket_id).select_related("by"))


def file_list_for_uploader(*, user: Any, ids: Iterable[int]) -> list[File]:
    """The files among ``ids`` that ``user`` uploaded (a rep attaches only their own), in the
    order of ``ids`` (one query)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    files = {file.pk: file for file in File.objects.filter(uploaded_by=user, pk__in=wanted)}
    return [files[pk] for pk in wanted if pk in files]
