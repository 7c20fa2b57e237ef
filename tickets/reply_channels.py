"""The ways a rep answers in a conversation (SPEC I6) and "send and set status" (I7).

Beside the conversation's own channel account (``tickets.replies.reply_send``) a rep can email
the contact or log a call; the inbox's channel switch lists the three with what each allows:

- ``reply_options``: the switch's entries, a reason for each one that cannot be used, and the
  limits its editor enforces (the services enforce them again);
- ``email_reply_send``: an OUTGOING message with medium EMAIL, sent after commit through
  Django's email backend by ``email_reply_deliver`` (a task, safe to run twice);
  ``email_reply_resend`` tries a failed one again, as ``reply_redeliver`` does any reply;
- ``call_log``: a logged call (medium CALL): a note with its duration and outcome;
- ``reply_send_and_set_status``: any of these and a status change, in one transaction.

Email and call messages have no channel or channel account: the app's API never sees them.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.utils import timezone

from channels_app.deliveries import RedeliveryRefused, delivery_redeliver
from channels_app.models import Delivery
from helpdesk.api_errors import error_item
from helpdesk.on_commit import enqueue_after_commit
from helpdesk.users import user_display_name
from tickets.files import (
    attachments_store,
    content_type_sniff_file,
    file_name_clean,
    mime_type_allowed,
)
from tickets.live import live_message_statuses_publish
from tickets.models import (
    File,
    Message,
    MessageDirection,
    MessageStatus,
    PipelineStatus,
    Thread,
    Ticket,
)
from tickets.replies import (
    ReplyRefused,
    rep_attachments_plan,
    reply_channel_problem,
    reply_created_publish,
    reply_send,
    reply_target,
    ticket_replied,
)
from tickets.services import (
    file_create,
    ticket_lock,
    ticket_required_properties_missing,
    ticket_set_status,
    ticket_update,
)

# An email carries at most this many files (each within the server's upload limit).
EMAIL_MAX_FILES = 10
# A logged call lasts at most a day.
CALL_MAX_DURATION_SECONDS = 24 * 3600


class CallOutcome(models.TextChoices):
    CONNECTED = "CONNECTED", "Connected"
    LEFT_VOICEMAIL = "LEFT_VOICEMAIL", "Left voicemail"
    NO_ANSWER = "NO_ANSWER", "No answer"
    BUSY = "BUSY", "Busy"
    WRONG_NUMBER = "WRONG_NUMBER", "Wrong number"


@dataclass(frozen=True)
class CallDetails:
    duration_seconds: int
    outcome: str


@dataclass(frozen=True)
class ReplyOption:
    """One entry of the channel switch. ``limits`` is what the editor enforces, in the
    capabilities' words (``files``, ``maxFileAttachmentCount``, ``maxFileAttachmentSizeBytes``,
    ``maxTotalFileAttachmentSizeBytes``, ``allowedFileAttachmentMimeTypes``, ``richText``)."""

    medium: str
    label: str
    problem: str | None
    limits: dict[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.problem is None


def _server_limit(value: Any) -> int:
    server = int(settings.FILE_UPLOAD_MAX_BYTES)
    return min(value, server) if isinstance(value, int) else server


def custom_channel_limits(capabilities: dict[str, Any]) -> dict[str, Any]:
    """The editor's limits for a channel's capabilities (or email's), within the server's
    limit."""
    files = "FILE" in (capabilities.get("outgoingAttachmentTypes") or [])
    limits: dict[str, Any] = {
        "files": files,
        "maxFileAttachmentSizeBytes": _server_limit(capabilities.get("maxFileAttachmentSizeBytes")),
        "allowedFileAttachmentMimeTypes": list(
            capabilities.get("allowedFileAttachmentMimeTypes") or []
        ),
        "richText": list(capabilities.get("richText") or []),
    }
    for key in ("maxFileAttachmentCount", "maxTotalFileAttachmentSizeBytes"):
        if isinstance(capabilities.get(key), int):
            limits[key] = capabilities[key]
    return limits


def email_reply_problem(ticket: Ticket) -> str | None:
    """Why the contact cannot be emailed, or None."""
    if not ticket.contact.email:
        return "The contact has no email address."
    return None


def reply_options(*, ticket: Ticket, thread: Thread | None) -> list[ReplyOption]:
    """The channel switch: the conversation's channel account, email, a logged call.

    Reads ``thread.channel_account.channel`` and ``ticket.contact``: select them beforehand.
    """
    options = []
    if thread is not None and thread.channel_account is not None:
        account = thread.channel_account
        options.append(
            ReplyOption(
                medium=Message.Medium.CUSTOM_CHANNEL,
                label=f"{account.channel.name} · {account.name}",
                problem=reply_channel_problem(thread),
                limits=custom_channel_limits(account.channel.capabilities or {}),
            )
        )
    email = ticket.contact.email
    options.append(
        ReplyOption(
            medium=Message.Medium.EMAIL,
            label=f"Email to {email}" if email else "Email",
            problem=email_reply_problem(ticket),
            limits=custom_channel_limits(_email_capabilities()),
        )
    )
    options.append(
        ReplyOption(
            medium=Message.Medium.CALL,
            label="Log a call",
            problem=None,
            limits={"files": False, "richText": []},
        )
    )
    return options


def _author(user: AbstractBaseUser) -> dict[str, Any]:
    return {"actorId": f"A-{user.pk}", "name": user_display_name(user)}


def _contact_participant(ticket: Ticket, kind: str, value: str) -> dict[str, Any]:
    participant: dict[str, Any] = {"actorId": f"V-{ticket.contact_id}"}
    if ticket.contact.name:
        participant["name"] = ticket.contact.name
    if value:
        participant["deliveryIdentifier"] = {"type": kind, "value": value}
    return participant


def _thread_of(ticket: Ticket) -> Thread:
    thread = Thread.objects.filter(ticket_id=ticket.pk).first()
    if thread is None:
        raise ReplyRefused("This ticket has no conversation.")
    return thread


# --- Attachments ----------------------------------------------------------------------------


def reply_file_upload(
    *, ticket: Ticket, thread: Thread | None, medium: str, upload: UploadedFile, user: Any
) -> File:
    """Stores a file the rep attaches in the editor, refusing at once what the chosen medium
    would refuse on sending (no files at all, too large, a type the channel does not take).
    The count and total are checked when the reply is sent.

    Raises ``ReplyRefused``; ``PayloadTooLarge`` above the server's limit (``file_create``).
    """
    option = next(
        (o for o in reply_options(ticket=ticket, thread=thread) if o.medium == medium), None
    )
    if option is None:
        raise ReplyRefused("Choose how to reply first.")
    if option.problem:
        raise ReplyRefused(option.problem)
    limits = option.limits
    name = file_name_clean(upload.name)
    if not limits.get("files"):
        raise ReplyRefused(f"{name}: {option.label} does not take attachments.")
    size = int(upload.size or 0)
    max_size = limits.get("maxFileAttachmentSizeBytes")
    if isinstance(max_size, int) and size > max_size:
        raise ReplyRefused(f"{name} is larger than the limit of {max_size} bytes.")
    content_type = content_type_sniff_file(upload, size)
    allowed = limits.get("allowedFileAttachmentMimeTypes") or []
    if allowed and not mime_type_allowed(content_type, allowed):
        raise ReplyRefused(f"{name}: files of type {content_type} are not accepted here.")
    return file_create(app=None, upload=upload, uploaded_by_id=user.pk)


# --- Email ----------------------------------------------------------------------------------


@transaction.atomic
def email_reply_send(
    *,
    ticket: Ticket,
    author: AbstractBaseUser,
    text: str,
    files: Sequence[File] = (),
    in_reply_to_id: int | None = None,
) -> Message:
    """Emails the contact: an OUTGOING message with medium EMAIL (status PENDING) in the
    ticket's thread, sent after commit by ``email_reply_deliver_task``. Replies to
    ``in_reply_to_id`` or the newest incoming message; an unassigned ticket becomes the
    author's. Locks with ``tickets.services.ticket_lock``.

    Raises ``ReplyRefused``: no email address, an empty reply, too many or too large files.
    """
    locked = ticket_lock(ticket)
    problem = email_reply_problem(locked)
    if problem:
        raise ReplyRefused(problem)
    text = text.strip()
    if not text and not files:
        raise ReplyRefused("Write a message or attach a file.")
    planned = rep_attachments_plan(files, _email_capabilities())
    thread = _thread_of(locked)
    in_reply_to = reply_target(thread, in_reply_to_id)
    now = timezone.now()
    message = Message.objects.create(
        thread=thread,
        ticket=locked,
        medium=Message.Medium.EMAIL,
        direction=MessageDirection.OUTGOING,
        text=text,
        details={"subject": f"Re: {locked.name}"[:200]},
        senders=[_author(author)],
        recipients=[_contact_participant(locked, "HS_EMAIL_ADDRESS", locked.contact.email)],
        status=MessageStatus.PENDING,
        in_reply_to=in_reply_to,
        client_type=Message.ClientType.HUBSPOT,
        sender_user_id=author.pk,
        timestamp=now,
    )
    attachments_store(message, planned)
    ticket_replied(ticket=locked, author=author, now=now)
    _email_deliver_after_commit(message.pk)
    reply_created_publish(message)
    return message


def _email_capabilities() -> dict[str, Any]:
    """Email in a channel's capabilities' words, for the editor and the checks alike: files of
    any type, at most ``EMAIL_MAX_FILES``, each and all together within the server's upload
    limit; no rich text."""
    limit = int(settings.FILE_UPLOAD_MAX_BYTES)
    return {
        "outgoingAttachmentTypes": ["FILE"],
        "maxFileAttachmentCount": EMAIL_MAX_FILES,
        "maxFileAttachmentSizeBytes": limit,
        "maxTotalFileAttachmentSizeBytes": limit,
    }


def _email_deliver_after_commit(message_id: int) -> None:
    from tickets.tasks import email_reply_deliver_task

    enqueue_after_commit(email_reply_deliver_task, message_id)


@transaction.atomic
def email_reply_deliver(*, message_id: int) -> bool:
    """Sends a PENDING email reply through Django's email backend; True if it was sent.

    Locks the message while sending, so two runs send it once: the second finds it no longer
    PENDING and does nothing. An SMTP or connection error marks it FAILED with the reason the
    rep sees (they can send it again); anything else propagates and leaves it PENDING.
    """
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("ticket")
        .filter(
            pk=message_id,
            medium=Message.Medium.EMAIL,
            direction=MessageDirection.OUTGOING,
            status=MessageStatus.PENDING,
        )
        .first()
    )
    if message is None:
        return False
    recipient = (message.recipients or [{}])[0].get("deliveryIdentifier", {}).get("value", "")
    email = EmailMessage(
        subject=str(message.details.get("subject") or f"Re: {message.ticket.name}"),
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        headers={"X-Helpdesk-Ticket": str(message.ticket_id)},
    )
    for attachment in message.attachments.select_related("file").order_by("position"):
        if attachment.file is not None:
            with attachment.file.file.open("rb") as stream:
                email.attach(attachment.file.name, stream.read(), attachment.file.content_type)
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as error:
        message.status = MessageStatus.FAILED
        message.failure_reason = f"The email could not be sent: {error}"[:1000]
    else:
        message.status = MessageStatus.SENT
        message.failure_reason = ""
    message.save(update_fields=["status", "failure_reason", "updated_at"])
    _status_changed(message)
    return message.status == MessageStatus.SENT


@transaction.atomic
def email_reply_resend(*, message: Message) -> Message:
    """Sends a FAILED email reply again (after commit). Locks the message.
    Raises ``ReplyRefused`` for anything but a failed email reply."""
    locked = Message.objects.select_for_update().get(pk=message.pk)
    if locked.medium != Message.Medium.EMAIL or locked.status != MessageStatus.FAILED:
        raise ReplyRefused("Only a failed email can be sent again.")
    locked.status = MessageStatus.PENDING
    locked.failure_reason = ""
    locked.save(update_fields=["status", "failure_reason", "updated_at"])
    _email_deliver_after_commit(locked.pk)
    _status_changed(locked)
    return locked


def reply_redeliver(*, message: Message) -> None:
    """Sends a failed reply again: a custom channel's delivery with the same event id
    (``channels_app.deliveries.delivery_redeliver``), or an email. Raises ``ReplyRefused``
    with the reason it cannot be (not failed, still being attempted, webhook disabled…)."""
    if message.direction != MessageDirection.OUTGOING or message.status != MessageStatus.FAILED:
        raise ReplyRefused("Only a failed reply can be sent again.")
    if message.medium == Message.Medium.EMAIL:
        email_reply_resend(message=message)
        return
    delivery = Delivery.objects.filter(message_id=message.pk).order_by("-id").first()
    if delivery is None:
        raise ReplyRefused("This reply has no delivery to send again.")
    try:
        delivery_redeliver(delivery=delivery)
    except RedeliveryRefused as refused:
        raise ReplyRefused(str(refused)) from refused


# --- Logged calls ---------------------------------------------------------------------------


@transaction.atomic
def call_log(
    *,
    ticket: Ticket,
    author: AbstractBaseUser,
    call: CallDetails,
    note: str = "",
    in_reply_to_id: int | None = None,
) -> Message:
    """Records a call with the contact in the thread: an OUTGOING message with medium CALL,
    the note as its text and ``details`` ``{durationSeconds, outcome}``. Nothing is sent. The
    ticket moves up the inbox; an unassigned one becomes the author's. Locks with
    ``ticket_lock``. Raises ``ReplyRefused`` (errors at ``call_duration``, ``call_outcome``).
    """
    errors = []
    if call.outcome not in CallOutcome.values:
        errors.append(error_item("call_outcome", "choose how the call went", "INVALID_ENUM"))
    if not 0 <= call.duration_seconds <= CALL_MAX_DURATION_SECONDS:
        errors.append(
            error_item("call_duration", "must be between 0 and 1440 minutes", "INVALID_FORMAT")
        )
    if errors:
        raise ReplyRefused(f"The call was not logged: {errors[0]['message']}.", errors=errors)
    locked = ticket_lock(ticket)
    thread = _thread_of(locked)
    now = timezone.now()
    message = Message.objects.create(
        thread=thread,
        ticket=locked,
        medium=Message.Medium.CALL,
        direction=MessageDirection.OUTGOING,
        text=note.strip(),
        details={"durationSeconds": call.duration_seconds, "outcome": call.outcome},
        senders=[_author(author)],
        recipients=[_contact_participant(locked, "HS_PHONE_NUMBER", locked.contact.phone)],
        status=MessageStatus.SENT,
        in_reply_to=reply_target(thread, in_reply_to_id) if in_reply_to_id else None,
        client_type=Message.ClientType.HUBSPOT,
        sender_user_id=author.pk,
        timestamp=now,
    )
    ticket_replied(ticket=locked, author=author, now=now)
    reply_created_publish(message)
    return message


# --- Any medium, and "send and set status" --------------------------------------------------


def reply_by_medium(
    *,
    ticket: Ticket,
    author: AbstractBaseUser,
    medium: str,
    text: str = "",
    rich_text: str = "",
    files: Sequence[File] = (),
    in_reply_to_id: int | None = None,
    call: CallDetails | None = None,
) -> Message:
    """A reply through the medium the rep chose in the channel switch (one transaction each)."""
    if medium == Message.Medium.CUSTOM_CHANNEL:
        return reply_send(
            ticket=ticket,
            author=author,
            text=text,
            rich_text=rich_text,
            files=files,
            in_reply_to_id=in_reply_to_id,
        )
    if medium == Message.Medium.EMAIL:
        return email_reply_send(
            ticket=ticket, author=author, text=text, files=files, in_reply_to_id=in_reply_to_id
        )
    if medium == Message.Medium.CALL:
        if call is None:
            raise ReplyRefused("Say how long the call took and how it went.")
        if files:
            raise ReplyRefused("A logged call has no attachments.")
        return call_log(
            ticket=ticket, author=author, call=call, note=text, in_reply_to_id=in_reply_to_id
        )
    raise ReplyRefused("Choose how to reply.")


@transaction.atomic
def reply_send_and_set_status(
    *,
    ticket: Ticket,
    author: AbstractBaseUser,
    status: PipelineStatus,
    properties: dict[str, Any] | None = None,
    medium: str = Message.Medium.CUSTOM_CHANNEL,
    text: str = "",
    rich_text: str = "",
    files: Sequence[File] = (),
    in_reply_to_id: int | None = None,
    call: CallDetails | None = None,
) -> Message:
    """Sends a reply and moves the ticket to ``status``, in one transaction: both or neither.

    ``properties`` (``name``, ``priority``, ``category``, ``owner``) are set first, for a
    status that requires them. Everything the status requires is checked before anything is
    written (the author counts as the owner of an unassigned ticket: replying assigns it).
    Locks with ``ticket_lock``, then as ``reply_send`` and ``ticket_set_status`` do.

    Raises ``ReplyRefused`` (status of another pipeline, required properties missing, any
    refusal of the reply) or ``TicketUpdateRefused`` (an invalid property value), each with
    ``errors`` naming the field.
    """
    if status.pipeline_id != ticket.pipeline_id:
        raise ReplyRefused(
            "The status is not in the ticket's pipeline.",
            errors=[error_item("status", "is not in the pipeline", "INVALID_ENUM")],
        )
    properties = {
        name: value
        for name, value in (properties or {}).items()
        if name in PipelineStatus.REQUIRABLE_PROPERTIES
    }
    locked = ticket_lock(ticket)
    values = dict(properties)
    if locked.owner_id is None:
        values.setdefault("owner", author)
    missing = ticket_required_properties_missing(ticket=locked, status=status, values=values)
    if missing:
        raise ReplyRefused(
            f"The status {status.name} requires: {', '.join(missing)}.",
            errors=[
                error_item(name, f"is required by {status.name}", "REQUIRED") for name in missing
            ],
        )
    if properties:
        locked = ticket_update(ticket=locked, by=author, **properties)
    message = reply_by_medium(
        ticket=locked,
        author=author,
        medium=medium,
        text=text,
        rich_text=rich_text,
        files=files,
        in_reply_to_id=in_reply_to_id,
        call=call,
    )
    ticket_set_status(ticket=locked, status=status, by=author)
    return message


def _status_changed(message: Message) -> None:
    live_message_statuses_publish(
        changed=[(message.pk, message.ticket_id)],
        status=message.status,
        failure_reason=message.failure_reason,
    )
