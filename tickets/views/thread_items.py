"""How the conversation shows a message: who wrote it, its body, its attachments in a form
people read, the medium (email, logged call) and the delivery status of a reply.

Pure functions over messages fetched by ``tickets.selectors.message_list_for_conversation``
(attachments and files prefetched, author and replied-to message selected): no queries.
Files are linked by their signed ids (``/files/download/<signed_id>``), as a relative URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from channels_app.capabilities import RICH_TEXT_FEATURES
from helpdesk.users import user_display_name
from tickets.files import file_signed_id
from tickets.models import Attachment, Message, MessageDirection, MessageStatus
from tickets.reply_channels import CallOutcome
from tickets.services import rich_text_clean

# Rich text was cleaned for its channel when stored; it is cleaned again when shown, allowing
# the formatting any channel may use (a row written some other way shows nothing dangerous).
_DISPLAY_CAPABILITIES = {"richText": list(RICH_TEXT_FEATURES), "allowInlineImages": False}
QUOTE_LENGTH = 140

DELIVERY_LABELS = {
    MessageStatus.PENDING: "Sending",
    MessageStatus.SENT: "Sent",
    MessageStatus.FAILED: "Failed",
    MessageStatus.READ: "Read",
}


@dataclass(frozen=True)
class AttachmentItem:
    """One attachment as shown: ``kind`` picks the template's rendering (``image``,
    ``sticker``, ``audio``, ``video``, ``file``, ``location``, ``contact``, ``quick_replies``,
    ``unsupported``)."""

    kind: str
    name: str = ""
    url: str = ""
    size: int = 0
    content_type: str = ""
    voice: bool = False
    lines: list[str] = field(default_factory=list)
    link: str = ""
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MessageItem:
    message: Message
    sender: str
    body: SafeString
    attachments: list[AttachmentItem]
    medium_label: str
    subject: str
    call_outcome: str
    call_duration: str
    delivery_label: str
    can_redeliver: bool
    quote_sender: str
    quote_text: str

    @property
    def is_outgoing(self) -> bool:
        return self.message.direction == MessageDirection.OUTGOING

    @property
    def shows_delivery(self) -> bool:
        return self.is_outgoing and self.message.medium != Message.Medium.CALL


def file_download_url(file: Any) -> str:
    """The signed, expiring link of a file, relative to this site (for rep pages)."""
    return reverse("file-download", kwargs={"signed_id": file_signed_id(file)})


def _http_url(value: Any) -> str:
    text = str(value or "").strip()
    return text if re.match(r"^https?://", text, re.IGNORECASE) else ""


def _words(key: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(key)).replace("_", " ")
    return spaced[:1].upper() + spaced[1:].lower()


def _scalar_lines(data: dict[str, Any], skip: Iterable[str] = ()) -> list[str]:
    lines = []
    for key, value in data.items():
        if key in skip or value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            value = ", ".join(
                str(item.get("value") or item) if isinstance(item, dict) else str(item)
                for item in value
            )
        elif isinstance(value, dict):
            value = ", ".join(str(v) for v in value.values() if v not in (None, ""))
        lines.append(f"{_words(key)}: {value}")
    return lines


def _file_item(attachment: Attachment) -> AttachmentItem:
    file = attachment.file
    assert file is not None  # noqa: S101 (FILE attachments have a file: a DB constraint)
    content_type = file.content_type
    usage = attachment.file_usage_type
    name, url, size = file.name, file_download_url(file), file.size
    if content_type.startswith("image/"):
        kind = "sticker" if usage == Attachment.FileUsageType.STICKER else "image"
    elif content_type.startswith("audio/"):
        kind = "audio"
    elif content_type.startswith("video/"):
        kind = "video"
    else:
        kind = "file"
    return AttachmentItem(
        kind=kind,
        name=name,
        url=url,
        size=size,
        content_type=content_type,
        voice=kind == "audio" and usage == Attachment.FileUsageType.VOICE_RECORDING,
    )


def attachment_item(attachment: Attachment) -> AttachmentItem:
    data = attachment.data if isinstance(attachment.data, dict) else {}
    if attachment.type == Attachment.Type.FILE and attachment.file is not None:
        return _file_item(attachment)
    if attachment.type == Attachment.Type.LOCATION:
        latitude, longitude = data.get("latitude"), data.get("longitude")
        lines = [str(data[key]) for key in ("name", "address") if data.get(key)]
        link = _http_url(data.get("url"))
        if latitude is not None and longitude is not None:
            lines.append(f"{latitude}, {longitude}")
            link = link or "https://www.openstreetmap.org/?" + urlencode(
                {"mlat": latitude, "mlon": longitude}
            )
        return AttachmentItem(kind="location", name="Location", lines=lines, link=link)
    if attachment.type == Attachment.Type.CONTACT:
        nested = data.get("contactProfile")
        profile: dict[str, Any] = nested if isinstance(nested, dict) else data
        name = str(
            profile.get("name")
            or " ".join(str(profile.get(k) or "") for k in ("firstName", "lastName")).strip()
            or "Contact card"
        )
        lines = _scalar_lines(profile, skip=("name", "firstName", "lastName"))
        return AttachmentItem(kind="contact", name=name, lines=lines)
    if attachment.type == Attachment.Type.QUICK_REPLIES:
        listed = data.get("quickReplies")
        replies: list[Any] = listed if isinstance(listed, list) else []
        options = [
            str(reply.get("label") or reply.get("value") or "")
            if isinstance(reply, dict)
            else str(reply)
            for reply in replies
        ]
        return AttachmentItem(kind="quick_replies", name="Quick replies", options=options)
    return AttachmentItem(
        kind="unsupported",
        name="Unsupported content",
        lines=_scalar_lines(data),
    )


def _sender(message: Message, contact_name: str) -> str:
    first = message.senders[0] if message.senders and isinstance(message.senders[0], dict) else {}
    if message.sender_user is not None:
        return user_display_name(message.sender_user)
    if first.get("name"):
        return str(first["name"])
    if message.direction == MessageDirection.INCOMING:
        identifier = first.get("deliveryIdentifier") or {}
        return contact_name or str(identifier.get("value") or "The contact")
    return "The app"


def _body(message: Message) -> SafeString:
    if message.rich_text:
        return mark_safe(rich_text_clean(message.rich_text, _DISPLAY_CAPABILITIES))  # noqa: S308 (sanitised by nh3)
    return SafeString(linebreaksbr(message.text, autoescape=True))


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int):
        return ""
    minutes, rest = divmod(seconds, 60)
    if minutes and rest:
        return f"{minutes} min {rest} s"
    return f"{minutes} min" if minutes else f"{rest} s"


def message_item(message: Message, *, contact_name: str = "") -> MessageItem:
    details = message.details if isinstance(message.details, dict) else {}
    outcome = str(details.get("outcome") or "")
    replied = message.in_reply_to
    outgoing = message.direction == MessageDirection.OUTGOING
    return MessageItem(
        message=message,
        sender=_sender(message, contact_name),
        body=_body(message),
        attachments=[attachment_item(attachment) for attachment in message.attachments.all()],
        medium_label=(
            "" if message.medium == Message.Medium.CUSTOM_CHANNEL else message.get_medium_display()
        ),
        subject=str(details.get("subject") or ""),
        call_outcome=str(dict(CallOutcome.choices).get(outcome, outcome)),
        call_duration=_duration(details.get("durationSeconds")),
        delivery_label=str(DELIVERY_LABELS.get(message.status, message.get_status_display())),  # type: ignore[call-overload]
        can_redeliver=(
            outgoing
            and message.status == MessageStatus.FAILED
            and message.client_type == Message.ClientType.HUBSPOT
            and message.medium in (Message.Medium.CUSTOM_CHANNEL, Message.Medium.EMAIL)
        ),
        quote_sender=_sender(replied, contact_name) if replied is not None else "",
        quote_text=_quote(replied) if replied is not None else "",
    )


def _quote(message: Message) -> str:
    text = " ".join(message.text.split())
    if not text:
        return "(attachment)"
    return text if len(text) <= QUOTE_LENGTH else text[: QUOTE_LENGTH - 1] + "…"


def message_items(messages: Iterable[Message], *, contact_name: str = "") -> list[MessageItem]:
    return [message_item(message, contact_name=contact_name) for message in messages]
