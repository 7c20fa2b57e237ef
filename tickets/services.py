"""Writes of tickets and their conversations: the only place that changes them.

``message_publish_inbound`` is everything that happens when an app posts a message (DESIGN.md,
flow 1); read it top to bottom. ``message_status_update`` records what the app says about a
message it delivered; ``ticket_set_status`` moves a ticket between statuses (closing it closes
its thread); ``file_create`` stores an upload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nh3
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_app.models import App, ChannelAccount, CustomChannel
from helpdesk.api_errors import ApiError, Conflict, NotFound, PayloadTooLarge, Unprocessable
from helpdesk.on_commit import after_commit
from routing.models import RoutingRule
from routing.notifications import notification_create_for_message  # routing: I9
from routing.services import backlog_drain_schedule, ticket_route  # routing: R2 backlog
from tickets.contacts import contact_resolve
from tickets.files import (
    PlannedAttachment,
    attachments_plan,
    content_type_sniff_file,
    file_name_clean,
)
from tickets.models import (
    Attachment,
    Contact,
    ContactIdentifier,
    File,
    IdempotencyRecord,
    Message,
    MessageDirection,
    MessageStatus,
    PipelineStatus,
    Thread,
    Ticket,
    TicketState,
)

TICKET_NAME_MAX_LENGTH = 300


# --- Inbound messages -----------------------------------------------------------------------


@dataclass(frozen=True)
class PublishResult:
    """The stored message; ``replayed`` when an idempotent retry returned an earlier one."""

    message: Message
    replayed: bool
    ticket_created: bool = False


@transaction.atomic
def message_publish_inbound(
    *,
    app: App,
    channel: CustomChannel,
    account: ChannelAccount,
    direction: str,
    text: str,
    senders: list[dict[str, Any]],
    recipients: list[dict[str, Any]] | None = None,
    rich_text: str = "",
    timestamp: datetime | None = None,
    attachments: list[dict[str, Any]] | None = None,
    integration_thread_id: str | None = None,
    integration_idempotency_id: str | None = None,
    in_reply_to_id: int | None = None,
    associate_with_contact_id: int | None = None,
    idempotency_key: str | None = None,
    request_hash: str = "",
) -> PublishResult:
    """Stores a message an app posts on a channel account, with its contact, thread and ticket.

    Preconditions: the input is validated in shape and delivery identifiers are normalised
    (``tickets.contacts.identifier_normalise``); ``account`` is a non-archived account of
    ``channel``, which belongs to ``app``. Participants are ``{deliveryIdentifier: {type, value},
    name?}``; attachments ``{type: "FILE", fileId: int, fileUsageType?}`` or
    ``{type, data: {...}}``.

    One transaction: a rejected request writes nothing. Idempotent by
    ``integration_idempotency_id`` (per channel) and by ``idempotency_key`` (per app, with
    ``request_hash`` of the request): a retry returns the first message and creates nothing;
    concurrent identical requests race on the unique constraints and the loser returns the
    winner's message. Locks: the open thread of the conversation (``SELECT … FOR UPDATE``), then
    its ticket (update). Side effects (live events, notifications) run after commit.

    Raises ``Conflict`` (inactive account), ``Unprocessable`` (idempotency key reused with
    another request), ``ApiError`` 400 with the input path of a bad reference or limit.
    """
    if account.channel_id != channel.pk or channel.app_id != app.pk:
        raise NotFound("No channel account with this id.")
    # 1. Idempotency: a retry of a request we already answered returns the same message.
    earlier = _replay_find(app, channel, integration_idempotency_id, idempotency_key, request_hash)
    if earlier is not None:
        return PublishResult(message=earlier, replayed=True)
    if not account.authorized:
        raise Conflict("This channel account is inactive; it does not accept messages.")

    # Everything that can refuse the request is checked before the first write.
    planned = attachments_plan(app=app, channel=channel, direction=direction, items=attachments)
    in_reply_to = _in_reply_to_get(account, in_reply_to_id)
    associated = _associated_contact_get(associate_with_contact_id)
    others = senders if direction == MessageDirection.INCOMING else recipients
    participant = others[0] if others else None
    if participant is None:
        raise ApiError(
            "An OUTGOING message needs its recipient.",
            errors=[
                {"message": "is required for OUTGOING", "in": "recipients", "code": "REQUIRED"}
            ],
        )

    try:
        # A savepoint: losing an idempotency race rolls back only this attempt, after which the
        # winner's committed rows are visible to the next statement (READ COMMITTED).
        with transaction.atomic():
            message, ticket_created = _publish_write(
                app=app,
                channel=channel,
                account=account,
                direction=direction,
                text=text,
                rich_text=rich_text_clean(rich_text, channel.capabilities),
                senders=senders,
                recipients=recipients,
                participant=participant,
                timestamp=timestamp or timezone.now(),
                planned=planned,
                integration_thread_id=integration_thread_id,
                integration_idempotency_id=integration_idempotency_id,
                in_reply_to=in_reply_to,
                associated=associated,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
    except IntegrityError:
        winner = _replay_find(
            app, channel, integration_idempotency_id, idempotency_key, request_hash
        )
        if winner is None:
            raise
        return PublishResult(message=winner, replayed=True)

    # 6. Side effects leave only once the message is committed.
    after_commit(
        message_published_after_commit, message_id=message.pk, ticket_created=ticket_created
    )
    return PublishResult(message=message, replayed=False, ticket_created=ticket_created)


def message_published_after_commit(*, message_id: int, ticket_created: bool) -> None:
    """After a message is committed: live events to the inbox and notifications go here (their
    issues add them, as Celery tasks taking ``message_id``). Nothing leaves yet."""


def _publish_write(
    *,
    app: App,
    channel: CustomChannel,
    account: ChannelAccount,
    direction: str,
    text: str,
    rich_text: str,
    senders: list[dict[str, Any]],
    recipients: list[dict[str, Any]] | None,
    participant: dict[str, Any],
    timestamp: datetime,
    planned: list[PlannedAttachment],
    integration_thread_id: str | None,
    integration_idempotency_id: str | None,
    in_reply_to: Message | None,
    associated: Contact | None,
    idempotency_key: str | None,
    request_hash: str,
) -> tuple[Message, bool]:
    # 2. The contact: the identifier of the other side of the conversation.
    identifier = participant["deliveryIdentifier"]
    resolved = contact_resolve(
        channel=channel,
        kind=identifier["type"],
        value=identifier["value"],
        name=str(participant.get("name") or ""),
        contact=associated,
    )
    contact = associated or resolved.contact

    # 3. The thread (and, for a new one, its ticket).
    thread, ticket_created = _thread_for_message(
        channel=channel,
        account=account,
        contact=contact,
        identifier=resolved.identifier,
        integration_thread_id=integration_thread_id,
        timestamp=timestamp,
    )
    ticket = thread.ticket

    # 4. The message and its attachments.
    contact_actor = f"V-{contact.pk}"
    if direction == MessageDirection.INCOMING:
        stored_senders = _participants_store(senders, first_actor=contact_actor)
        default_recipient = account.delivery_identifier
        stored_recipients = _participants_store(
            recipients
            if recipients is not None
            else ([{"deliveryIdentifier": default_recipient}] if default_recipient else []),
            first_actor=None,
        )
        status = MessageStatus.RECEIVED
    else:
        stored_senders = _participants_store(senders, first_actor=f"I-{app.pk}")
        stored_recipients = _participants_store(recipients or [], first_actor=contact_actor)
        status = MessageStatus.SENT
    message = Message.objects.create(
        thread=thread,
        ticket=ticket,
        channel=channel,
        channel_account=account,
        medium=Message.Medium.CUSTOM_CHANNEL,
        direction=direction,
        text=text,
        rich_text=rich_text,
        senders=stored_senders,
        recipients=stored_recipients,
        status=status,
        in_reply_to=in_reply_to,
        integration_idempotency_id=integration_idempotency_id,
        client_type=Message.ClientType.INTEGRATION,
        app=app,
        sender_contact=contact if direction == MessageDirection.INCOMING else None,
        timestamp=timestamp,
    )
    if idempotency_key:
        IdempotencyRecord.objects.create(
            app=app, key=idempotency_key, request_hash=request_hash, message=message
        )
    attachments = Attachment.objects.bulk_create(
        Attachment(
            message=message,
            position=position,
            type=item.type,
            file=item.file,
            file_usage_type=item.file_usage_type,
            data=item.data,
        )
        for position, item in enumerate(planned)
    )
    attachments_cache_set(message, attachments)

    # 5. A new ticket goes to the account's routing rule; an existing one moves up the inbox.
    if ticket_created:
        ticket_route(ticket=ticket)
    elif ticket.last_message_at is None or timestamp > ticket.last_message_at:
        Ticket.objects.filter(pk=ticket.pk).update(
            last_message_at=timestamp, updated_at=timezone.now()
        )
        ticket.last_message_at = timestamp
    if not ticket_created:
        # Routing (I9): the owner of an existing ticket is notified of a new incoming message.
        notification_create_for_message(ticket=ticket, message=message)
    return message, ticket_created


def attachments_cache_set(message: Message, attachments: list[Attachment]) -> None:
    """Marks ``message.attachments`` as fetched: the response is rendered from what was just
    written, without reading it back (as ``prefetch_related`` would have left it)."""
    fetched = message.attachments.all()
    fetched._result_cache = attachments
    fetched._prefetch_done = True  # type: ignore[attr-defined]
    message._prefetched_objects_cache = {"attachments": fetched}  # type: ignore[attr-defined]


def _replay_find(
    app: App,
    channel: CustomChannel,
    integration_idempotency_id: str | None,
    idempotency_key: str | None,
    request_hash: str,
) -> Message | None:
    """The message an earlier identical request created, or None; a reused key → 422."""
    if integration_idempotency_id is not None:
        message = Message.objects.filter(
            channel=channel, integration_idempotency_id=integration_idempotency_id
        ).first()
        if message is not None:
            return message
    if idempotency_key:
        record = (
            IdempotencyRecord.objects.select_related("message")
            .filter(app=app, key=idempotency_key)
            .first()
        )
        if record is not None:
            if record.request_hash != request_hash:
                raise Unprocessable(
                    "This Idempotency-Key was already used with a different request."
                )
            return record.message
    return None


def _participants_store(
    participants: list[dict[str, Any]], *, first_actor: str | None
) -> list[dict[str, Any]]:
    """Participants as stored and returned: ``{actorId?, name?, deliveryIdentifier}``."""
    stored = []
    for index, participant in enumerate(participants):
        entry: dict[str, Any] = {}
        if index == 0 and first_actor:
            entry["actorId"] = first_actor
        if participant.get("name"):
            entry["name"] = participant["name"]
        entry["deliveryIdentifier"] = dict(participant["deliveryIdentifier"])
        stored.append(entry)
    return stored


def _in_reply_to_get(account: ChannelAccount, message_id: int | None) -> Message | None:
    """The replied-to message: it must be of the same channel account. A different thread is
    fine: a reply to a message of a closed ticket starts a new ticket."""
    if message_id is None:
        return None
    message = Message.objects.filter(pk=message_id, channel_account=account).first()
    if message is None:
        raise ApiError(
            "inReplyToId is not a message of this channel account.",
            errors=[
                {
                    "message": "no such message on this channel account",
                    "in": "inReplyToId",
                    "code": "OBJECT_NOT_FOUND",
                }
            ],
        )
    return message


def _associated_contact_get(contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise ApiError(
            "associateWithContactId is not a contact.",
            errors=[
                {
                    "message": "no such contact",
                    "in": "associateWithContactId",
                    "code": "OBJECT_NOT_FOUND",
                }
            ],
        )
    return contact


def _error(path: str, message: str, code: str) -> dict[str, str]:
    return {"message": message, "in": path, "code": code}


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


# --- Threads and tickets --------------------------------------------------------------------


def _threading_key(
    channel: CustomChannel, identifier: ContactIdentifier, integration_thread_id: str | None
) -> str | None:
    if channel.threading_model == "DELIVERY_IDENTIFIER":
        return f"d:{identifier.pk}"
    return f"t:{integration_thread_id}" if integration_thread_id else None


def _open_thread_locked(account: ChannelAccount, key: str) -> Thread | None:
    return (
        Thread.objects.select_for_update(of=("self",))
        .select_related("ticket")
        .filter(channel_account=account, threading_key=key, is_open=True)
        .first()
    )


def _thread_for_message(
    *,
    channel: CustomChannel,
    account: ChannelAccount,
    contact: Contact,
    identifier: ContactIdentifier,
    integration_thread_id: str | None,
    timestamp: datetime,
) -> tuple[Thread, bool]:
    """The open thread of this conversation, locked; or a new thread with a new ticket.

    A thread whose ticket is closed is never reused. Race-safe: two first messages of one
    conversation both try to insert; the partial unique constraint lets one win and the other
    rolls back its savepoint and locks the winner's thread.
    """
    key = _threading_key(channel, identifier, integration_thread_id)
    if key is not None:
        thread = _open_thread_locked(account, key)
        if thread is not None:
            if thread.ticket.state != TicketState.CLOSED:
                return thread, False
            # The ticket was closed by a writer that left its thread open: close it now, so
            # the key is free for the new thread.
            Thread.objects.filter(pk=thread.pk).update(is_open=False)
    try:
        with transaction.atomic():
            ticket = _ticket_create(
                channel=channel, account=account, contact=contact, timestamp=timestamp
            )
            thread = Thread.objects.create(
                ticket=ticket,
                channel_account=account,
                contact=contact,
                contact_identifier=identifier,
                integration_thread_id=integration_thread_id,
                threading_key=key,
            )
    except IntegrityError:
        winner = _open_thread_locked(account, key) if key is not None else None
        if winner is None:
            raise
        return winner, False
    return thread, True


def _ticket_create(
    *, channel: CustomChannel, account: ChannelAccount, contact: Contact, timestamp: datetime
) -> Ticket:
    """A ticket with the properties of the account's routing rule (defaults without one)."""
    rule = (
        RoutingRule.objects.select_related("pipeline", "starting_status__pipeline")
        .filter(channel_account=account)
        .first()
    )
    status = _starting_status(rule)
    pipeline = status.pipeline
    template = rule.name_template if rule else RoutingRule.DEFAULT_NAME_TEMPLATE
    return Ticket.objects.create(
        name=ticket_name_render(
            template, contact=str(contact), channel=channel.name, account=account.name
        ),
        pipeline=pipeline,
        status=status,
        state=status.state,
        priority=rule.priority if rule else "",
        category=rule.category if rule else "",
        contact=contact,
        channel_account=account,
        last_message_at=timestamp,
    )


def _starting_status(rule: RoutingRule | None) -> PipelineStatus:
    """The rule's starting status (when it belongs to the rule's pipeline), else the first
    status of the rule's pipeline, else the first status of the default pipeline. The status
    comes with its pipeline; one query at most beyond the rule's."""
    starting = rule.starting_status if rule is not None else None
    if (
        starting is not None
        and rule is not None
        and rule.pipeline_id in (None, starting.pipeline_id)
    ):
        return starting
    statuses = PipelineStatus.objects.select_related("pipeline").order_by("display_order", "id")
    if rule is not None and rule.pipeline_id is not None:
        statuses = statuses.filter(pipeline_id=rule.pipeline_id)
    else:
        statuses = statuses.filter(pipeline__is_default=True)
    status = statuses.first()
    if status is None:
        raise RuntimeError("The pipeline has no status; migrations create the default ones.")
    return status


def ticket_name_render(template: str, *, contact: str, channel: str, account: str) -> str:
    """The ticket name from an admin's template. Plain placeholder replacement, not
    ``str.format``: a template is data and must never fail or reach attributes."""
    name = (
        (template or RoutingRule.DEFAULT_NAME_TEMPLATE)
        .replace("{contact}", contact)
        .replace("{channel}", channel)
        .replace("{account}", account)
    )
    return name.strip()[:TICKET_NAME_MAX_LENGTH] or f"{contact} via {channel}"[:300]


@transaction.atomic
def ticket_set_status(*, ticket: Ticket, status: PipelineStatus) -> Ticket:
    """Moves a ticket to a status of its pipeline; a closed state closes its thread, so the
    contact's next message starts a new ticket. Reopening reopens the thread unless a newer
    open thread took over its conversation.

    Locks the thread, then the ticket (the order ``message_publish_inbound`` uses).
    Raises ``ApiError`` for a status of another pipeline or a missing required property.
    """
    if status.pipeline_id != ticket.pipeline_id:
        raise ApiError(
            "The status is not in the ticket's pipeline.",
            errors=[_error("status", "is not a status of the ticket's pipeline", "INVALID_ENUM")],
        )
    thread = Thread.objects.select_for_update().filter(ticket=ticket).first()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    missing = [
        name
        for name in status.required_properties or []
        if name in PipelineStatus.REQUIRABLE_PROPERTIES and not getattr(ticket, name, None)
    ]
    if missing:
        raise ApiError(
            f"The status {status.name} requires: {', '.join(missing)}.",
            errors=[_error(name, "is required by this status", "REQUIRED") for name in missing],
        )
    closing = status.state == TicketState.CLOSED
    # Routing (R2): closing an open ticket frees its owner's capacity; drain after commit.
    if closing and ticket.state != TicketState.CLOSED and ticket.owner_id is not None:
        backlog_drain_schedule(user_id=ticket.owner_id)
    ticket.status = status
    ticket.state = status.state
    ticket.closed_at = (ticket.closed_at or timezone.now()) if closing else None
    ticket.save(update_fields=["status", "state", "closed_at", "updated_at"])
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
    message.status = status_type
    if status_type == MessageStatus.FAILED:
        if error_message is not None:
            message.failure_reason = error_message
    else:
        message.failure_reason = ""
    message.save(update_fields=["status", "failure_reason", "updated_at"])
    after_commit(message_status_updated_after_commit, message_id=message.pk)
    return message


def message_status_updated_after_commit(*, message_id: int) -> None:
    """After a status change is committed: the live event showing it next to the reply goes
    here (added with the inbox's live updates). Nothing leaves yet."""


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
