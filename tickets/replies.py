"""A rep's reply: the OUTGOING message and its delivery to the app, in one transaction.

``reply_send`` is the one way a reply is written (the inbox calls it; so do tests and the
demo data). The outbox ``Delivery`` row is written with the message, so the reply reaches the
app even if the process dies right after commit (``channels_app.deliveries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from channels_app.api.message_serializers import message_to_api
from channels_app.deliveries import event_enqueue
from channels_app.models import Delivery
from helpdesk.api_errors import ApiError
from helpdesk.users import user_display_name
from routing.ownership import ticket_take_by_reply
from tickets.files import (
    PlannedAttachment,
    attachments_store,
    file_attachments_planned,
    outgoing_attachment_problems,
)
from tickets.live import live_event_publish
from tickets.models import (
    File,
    LiveEvent,
    Message,
    MessageDirection,
    MessageStatus,
    Thread,
    Ticket,
)
from tickets.services import rich_text_clean, ticket_lock


class ReplyRefused(ApiError):
    """The reply cannot be sent through this channel now; the message says why (400)."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, status_code=400, errors=errors)


def reply_channel_problem(thread: Thread) -> str | None:
    """Why a reply through the thread's channel account is impossible, or None."""
    account = thread.channel_account
    if account is None:
        return "This conversation has no channel account."
    if account.archived or account.channel.archived:
        return "The channel account was deleted."
    if not account.authorized:
        return "The channel account is inactive."
    if not account.channel.capabilities.get("allowOutgoingMessages"):
        return "This channel does not accept outgoing messages."
    return None


def _recipients(thread: Thread) -> list[dict[str, Any]]:
    """The contact, as the identifier the conversation uses (or its latest message's sender)."""
    contact = thread.contact
    identifier = thread.contact_identifier
    if identifier is not None:
        delivery_identifier = {"type": identifier.kind, "value": identifier.value}
    else:
        latest = thread.messages.filter(direction=MessageDirection.INCOMING).order_by("-id").first()
        senders = latest.senders if latest is not None else []
        if not senders:
            raise ReplyRefused("The contact has no delivery identifier on this channel.")
        delivery_identifier = dict(senders[0]["deliveryIdentifier"])
    recipient: dict[str, Any] = {
        "actorId": f"V-{contact.pk}",
        "deliveryIdentifier": delivery_identifier,
    }
    if contact.name:
        recipient["name"] = contact.name
    return [recipient]


def rep_attachments_plan(
    files: Sequence[File], capabilities: dict[str, Any]
) -> list[PlannedAttachment]:
    """A rep's files as attachments, checked against ``capabilities`` (a channel's, or those
    email is given); ``ReplyRefused`` names the first file that does not fit."""
    planned = file_attachments_planned(files)
    problems = outgoing_attachment_problems(capabilities, planned)
    if problems:
        raise ReplyRefused(attachment_problem_sentence(problems[0], files), errors=problems)
    return planned


def attachment_problem_sentence(problem: dict[str, str], files: Sequence[File]) -> str:
    """A problem of ``outgoing_attachment_problems`` as a sentence naming the file, for reps:
    "photo.png is larger than this channel's limit of 1000 bytes."."""
    path = problem.get("in", "")
    message = problem.get("message", "is not accepted")
    if path.startswith("attachments[") and "]" in path:
        index = path[len("attachments[") : path.index("]")]
        if index.isdigit() and int(index) < len(files):
            return f"{files[int(index)].name}: {message}."
    return f"Attachments: {message}."


def reply_target(thread: Thread, in_reply_to_id: int | None) -> Message | None:
    """The message a reply answers: ``in_reply_to_id`` (a message of this thread, else
    ``ReplyRefused``), or by default the newest incoming one."""
    if in_reply_to_id is not None:
        replied = thread.messages.filter(pk=in_reply_to_id).first()
        if replied is None:
            raise ReplyRefused("The message replied to is not part of this conversation.")
        return replied
    return (
        thread.messages.filter(direction=MessageDirection.INCOMING)
        .order_by("-timestamp", "-id")
        .first()
    )


def reply_created_publish(message: Message) -> None:
    """``message.created`` of a rep's reply, any medium, for open inboxes after commit."""
    live_event_publish(
        kind=LiveEvent.Kind.MESSAGE_CREATED,
        ticket=message.ticket,
        message=message,
        data={"direction": message.direction, "medium": message.medium},
    )


def ticket_replied(*, ticket: Ticket, author: AbstractBaseUser, now: datetime) -> None:
    """What any reply does to its ticket (locked by the caller): it moves up the inbox, and an
    unassigned ticket becomes the author's, recorded as a manual assignment."""
    ticket.last_message_at = now
    update_fields = ["last_message_at", "updated_at"]
    if ticket.owner_id is None:
        ticket_take_by_reply(ticket=ticket, author=author, now=now)
        update_fields += ["owner", "assigned_at"]
    ticket.save(update_fields=update_fields)


@transaction.atomic
def reply_send(
    *,
    ticket: Ticket,
    author: AbstractBaseUser,
    text: str,
    rich_text: str = "",
    files: Sequence[File] = (),
    in_reply_to_id: int | None = None,
) -> Message:
    """Sends a rep's reply through the ticket's channel account.

    Writes the OUTGOING message (status PENDING) and an ``OUTGOING_CHANNEL_MESSAGE_CREATED``
    delivery; a worker sends it after commit. Replies to ``in_reply_to_id`` (a message of this
    thread) or else to the newest incoming message. Files must obey the channel's capabilities.
    An unassigned ticket becomes the author's. Locks with ``ticket_lock``.

    Raises ``ReplyRefused`` (inactive account, outgoing messages not allowed, empty reply,
    attachment limits, unknown replied-to message).
    """
    ticket = ticket_lock(ticket)
    thread = Thread.objects.select_related(
        "channel_account__channel", "contact", "contact_identifier"
    ).get(ticket=ticket)
    problem = reply_channel_problem(thread)
    if problem:
        raise ReplyRefused(problem)
    account = thread.channel_account
    assert account is not None  # noqa: S101 - reply_channel_problem refuses threads without one
    channel = account.channel
    text = text.strip()
    if not text and not files:
        raise ReplyRefused("Write a message or attach a file.")
    planned = rep_attachments_plan(files, channel.capabilities)

    in_reply_to = reply_target(thread, in_reply_to_id)

    now = timezone.now()
    sender: dict[str, Any] = {"actorId": f"A-{author.pk}", "name": user_display_name(author)}
    if account.delivery_identifier is not None:
        sender["deliveryIdentifier"] = account.delivery_identifier
    message = Message.objects.create(
        thread=thread,
        ticket=ticket,
        channel=channel,
        channel_account=account,
        medium=Message.Medium.CUSTOM_CHANNEL,
        direction=MessageDirection.OUTGOING,
        text=text,
        rich_text=rich_text_clean(rich_text, channel.capabilities),
        senders=[sender],
        recipients=_recipients(thread),
        status=MessageStatus.PENDING,
        in_reply_to=in_reply_to,
        client_type=Message.ClientType.HUBSPOT,
        sender_user_id=author.pk,
        timestamp=now,
    )
    attachments_store(message, planned)
    ticket_replied(ticket=ticket, author=author, now=now)

    event_enqueue(
        channel=channel,
        event_type=Delivery.EventType.OUTGOING_CHANNEL_MESSAGE_CREATED,
        payload={
            "channelId": str(channel.pk),
            "channelAccountId": str(account.pk),
            "channelIntegrationThreadIds": (
                [thread.integration_thread_id] if thread.integration_thread_id else []
            ),
            "message": message_to_api(message),
        },
        channel_account_id=account.pk,
        message_id=message.pk,
    )
    reply_created_publish(message)
    return message
