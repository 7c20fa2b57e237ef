"""What happens when an app posts a message (DESIGN.md, flow 1): ``message_publish_inbound``
stores it with its contact, thread and ticket; read it top to bottom. The threads and tickets it
opens are here too; other writes of tickets are ``tickets.services``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_app.models import App, ChannelAccount, CustomChannel
from helpdesk.api_errors import ApiError, Conflict, NotFound, Unprocessable, error_item
from helpdesk.sql import ModelColumns, for_update_of
from routing.models import RoutingRule
from routing.notifications import notification_create_for_message  # routing: I9
from routing.services import ticket_route  # routing: R2 backlog
from tickets.contacts import contact_identifier_matches, contact_resolve
from tickets.files import (
    PlannedAttachment,
    attachments_plan,
    attachments_store,
)
from tickets.live import live_event_publish
from tickets.models import (
    Attachment,
    Contact,
    ContactIdentifier,
    IdempotencyRecord,
    LiveEvent,
    Message,
    MessageDirection,
    MessageStatus,
    PipelineStatus,
    Thread,
    Ticket,
    TicketState,
)
from tickets.services import TICKET_NAME_MAX_LENGTH, rich_text_clean

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
            errors=[error_item("recipients", "is required for OUTGOING", "REQUIRED")],
        )

    idempotent = integration_idempotency_id is not None or bool(idempotency_key)
    try:
        # A savepoint for an idempotent request: losing its race rolls back only this attempt,
        # after which the winner's committed rows are visible to the next statement (READ
        # COMMITTED). Any other request has no race to lose here: it needs none.
        with transaction.atomic(savepoint=idempotent):
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

    return PublishResult(message=message, replayed=False, ticket_created=ticket_created)


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
    # 2. The contact (the identifier of the other side of the conversation) and 3. the thread
    # (and, for a new one, its ticket).
    conversation = _conversation_for_message(
        channel=channel,
        account=account,
        participant=participant,
        associated=associated,
        integration_thread_id=integration_thread_id,
        timestamp=timestamp,
    )
    contact_id, thread = conversation.contact_id, conversation.thread
    ticket, ticket_created = thread.ticket, conversation.ticket_created

    # 4. The message and its attachments.
    contact_actor = f"V-{contact_id}"
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
        sender_contact_id=contact_id if direction == MessageDirection.INCOMING else None,
        timestamp=timestamp,
    )
    if idempotency_key:
        IdempotencyRecord.objects.create(
            app=app, key=idempotency_key, request_hash=request_hash, message=message
        )
    attachments_cache_set(message, attachments_store(message, planned) if planned else [])
    # Live (I8): open inboxes show the new ticket (with this first message) or the new message.
    live_event_publish(
        kind=LiveEvent.Kind.TICKET_CREATED if ticket_created else LiveEvent.Kind.MESSAGE_CREATED,
        ticket=ticket,
        message=message,
        data={"direction": direction, "medium": message.medium},
    )

    # 5. A new ticket goes to the account's routing rule; an existing one moves up the inbox.
    if ticket_created:
        ticket_route(
            ticket=ticket,
            rule=conversation.rule,
            message=message if direction == MessageDirection.INCOMING else None,
        )
    elif ticket.last_message_at is None or timestamp > ticket.last_message_at:
        # Conditional: the ticket came with the thread, whose lock another follow-up may have
        # held until it moved the ticket on; that read can be stale (only the thread row is
        # re-read after the wait), and the UPDATE re-checks the latest row.
        Ticket.objects.filter(
            Q(last_message_at__isnull=True) | Q(last_message_at__lt=timestamp), pk=ticket.pk
        ).update(last_message_at=timestamp, updated_at=timezone.now())
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
                error_item(
                    "inReplyToId", "no such message on this channel account", "OBJECT_NOT_FOUND"
                )
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
            errors=[error_item("associateWithContactId", "no such contact", "OBJECT_NOT_FOUND")],
        )
    return contact


# --- Threads and tickets --------------------------------------------------------------------


_THREAD_COLUMNS = ModelColumns(Thread, "t")
_TICKET_COLUMNS = ModelColumns(Ticket, "k")
_IDENTIFIER_COLUMNS = ModelColumns(ContactIdentifier, "i")
_OPEN_THREAD_SQL = (
    f"SELECT {_THREAD_COLUMNS.sql}, {_TICKET_COLUMNS.sql}, {_IDENTIFIER_COLUMNS.sql}"  # noqa: S608
    f" FROM {_THREAD_COLUMNS.table} t JOIN {_TICKET_COLUMNS.table} k ON k.id = t.ticket_id"
    f" LEFT JOIN {_IDENTIFIER_COLUMNS.table} i ON i.id = t.contact_identifier_id"
    " WHERE t.channel_account_id = %s AND t.threading_key = %s AND t.is_open = %s"
)


def _open_thread_locked(account: ChannelAccount, key: str) -> Thread | None:
    """The open thread holding ``key``, locked, with its ticket and its contact identifier (a
    follow-up from the same address needs nothing else: the identifier names its contact's id).
    At most one open thread holds a key (a unique constraint).

    Every follow-up message runs this, so it is SQL (``helpdesk.sql``): the ORM's
    ``select_for_update(of=("self",)).select_related("ticket", "contact_identifier")`` costs
    several times as much CPU to build as the database takes to answer."""
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_THREAD_SQL + for_update_of("t"), [account.pk, key, True])
        row = cursor.fetchone()
    if row is None:
        return None
    thread = _THREAD_COLUMNS.instance(row)
    thread.ticket = _TICKET_COLUMNS.instance(row, len(_THREAD_COLUMNS))
    thread.contact_identifier = _IDENTIFIER_COLUMNS.instance_or_none(
        row, len(_THREAD_COLUMNS) + len(_TICKET_COLUMNS)
    )
    return thread


def _open_thread_reusable(account: ChannelAccount, key: str) -> Thread | None:
    """The open thread holding ``key``, locked, unless its ticket is closed: a thread whose
    ticket is closed is never reused. Such a thread was left open by a writer that closed its
    ticket; it is closed now, so the key is free for the new thread."""
    thread = _open_thread_locked(account, key)
    if thread is not None and thread.ticket.state == TicketState.CLOSED:
        Thread.objects.filter(pk=thread.pk).update(is_open=False)
        return None
    return thread


def _open_thread_or_creation_lock(account: ChannelAccount, key: str) -> Thread | None:
    """The reusable open thread of ``key`` (``_open_thread_reusable``), or None: the caller
    then creates it, holding the key's creation lock on PostgreSQL.

    The creation lock is an advisory lock until commit: the first message of a conversation
    takes it at once (``pg_try_advisory_xact_lock``); a concurrent first message of the same
    conversation queues for it and then finds the thread the first one created, instead of
    writing a contact, ticket and thread that the unique constraint would throw away. (SQLite
    runs one writing transaction at a time: nothing to queue for.)
    """
    thread = _open_thread_reusable(account, key)
    if thread is not None or connection.vendor != "postgresql":
        return thread
    lock_id = int.from_bytes(
        hashlib.blake2b(f"thread:{account.pk}:{key}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        if cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
    return _open_thread_reusable(account, key)


@dataclass(frozen=True)
class _Conversation:
    """Where a message goes: the contact at the other end (its id) and the conversation's open
    thread, locked. A new thread comes with a new ticket (``ticket_created``) and the account's
    routing rule its properties came from, which then routes it (None: the account has none)."""

    contact_id: int
    thread: Thread
    ticket_created: bool = False
    rule: RoutingRule | None = None


def _conversation_for_message(
    *,
    channel: CustomChannel,
    account: ChannelAccount,
    participant: dict[str, Any],
    associated: Contact | None,
    integration_thread_id: str | None,
    timestamp: datetime,
) -> _Conversation:
    """The contact at the other end (its id) and the open thread of the conversation, locked;
    or a new thread with a new ticket.

    The contact is the one reached at the participant's identifier (``contact_resolve``), or
    ``associated``. DELIVERY_IDENTIFIER threads are keyed by that identifier, so it is resolved
    first. INTEGRATION_THREAD_ID threads are keyed by the app's thread id, so the thread comes
    first, and a follow-up from the address that started the thread takes the identifier and
    its contact's id from the thread's row, with no lookup of its own.

    Race-safe: concurrent first messages of one conversation queue for its creation lock
    (``_open_thread_or_creation_lock``); should two still insert, the partial unique constraint
    lets one win and the other rolls back its savepoint and locks the winner's thread. By
    thread id, the savepoint holds the contact written for the attempt too, so a request never
    waits for a thread while holding a contact row it inserted: together with "the thread
    before the contact" for threads that exist, two requests never wait for each other.
    """
    identifier = participant["deliveryIdentifier"]

    def resolve() -> tuple[Contact, ContactIdentifier]:
        resolved = contact_resolve(
            channel=channel,
            kind=identifier["type"],
            value=identifier["value"],
            name=str(participant.get("name") or ""),
            contact=associated,
        )
        return associated or resolved.contact, resolved.identifier

    def create(
        contact: Contact, contact_identifier: ContactIdentifier, key: str | None
    ) -> _Conversation:
        ticket, rule = _ticket_create(
            channel=channel, account=account, contact=contact, timestamp=timestamp
        )
        thread = Thread.objects.create(
            ticket=ticket,
            channel_account=account,
            contact=contact,
            contact_identifier=contact_identifier,
            integration_thread_id=integration_thread_id,
            threading_key=key,
        )
        return _Conversation(contact.pk, thread, ticket_created=True, rule=rule)

    if channel.threading_model == "DELIVERY_IDENTIFIER":
        contact, contact_identifier = resolve()
        key = f"d:{contact_identifier.pk}"
        thread = _open_thread_or_creation_lock(account, key)
        if thread is not None:
            return _Conversation(contact.pk, thread)
        try:
            with transaction.atomic():
                return create(contact, contact_identifier, key)
        except IntegrityError:
            winner = _open_thread_locked(account, key)
            if winner is None:
                raise
            return _Conversation(contact.pk, winner)

    if not integration_thread_id:
        # Every message starts its own thread: no key, nothing to race on.
        contact, contact_identifier = resolve()
        return create(contact, contact_identifier, None)

    key = f"t:{integration_thread_id}"
    thread = _open_thread_or_creation_lock(account, key)
    if thread is None:
        try:
            with transaction.atomic():
                contact, contact_identifier = resolve()
                return create(contact, contact_identifier, key)
        except IntegrityError:
            thread = _open_thread_locked(account, key)
            if thread is None:
                raise
    known = thread.contact_identifier
    if (
        associated is None
        and known is not None
        and contact_identifier_matches(
            known, channel=channel, kind=identifier["type"], value=identifier["value"]
        )
    ):
        return _Conversation(known.contact_id, thread)
    contact, _ = resolve()
    return _Conversation(contact.pk, thread)


def _ticket_create(
    *, channel: CustomChannel, account: ChannelAccount, contact: Contact, timestamp: datetime
) -> tuple[Ticket, RoutingRule | None]:
    """A ticket with the properties of the account's routing rule (defaults without one), and
    that rule (its pipeline and starting status joined)."""
    rule: RoutingRule | None
    try:  # one rule per account: ``get`` needs no ORDER BY
        rule = RoutingRule.objects.select_related("pipeline", "starting_status__pipeline").get(
            channel_account=account
        )
    except RoutingRule.DoesNotExist:
        rule = None
    status = _starting_status(rule)
    pipeline = status.pipeline
    template = rule.name_template if rule else RoutingRule.DEFAULT_NAME_TEMPLATE
    ticket = Ticket.objects.create(
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
    return ticket, rule


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
