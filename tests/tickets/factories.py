"""Builders for the messages and files tests: request bodies, uploads, real file bytes."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from channels_app.models import App, ChannelAccount, CustomChannel
from tests.factories import (
    DEFAULT_CAPABILITIES,
    ChannelAccountFactory,
    ContactFactory,
    CustomChannelFactory,
    default_pipeline,
)
from tickets.models import Message, MessageStatus, Thread, Ticket

FILES_URL = "/files/v3/files"


def messages_url(channel: CustomChannel | int | str) -> str:
    channel_id = channel.pk if isinstance(channel, CustomChannel) else channel
    return f"/conversations/v3/custom-channels/{channel_id}/messages"


def message_url(channel: CustomChannel | int | str, message_id: int | str) -> str:
    return f"{messages_url(channel)}/{message_id}"


def channel_with_account(
    app: App, *, threading_model: str = "INTEGRATION_THREAD_ID", **capabilities: Any
) -> tuple[CustomChannel, ChannelAccount]:
    caps = {**DEFAULT_CAPABILITIES, "threadingModel": threading_model, **capabilities}
    channel = CustomChannelFactory(app=app, capabilities=caps)
    return channel, ChannelAccountFactory(channel=channel)


def sender(value: str = "+15550100000", kind: str = "HS_PHONE_NUMBER", **extra: Any) -> dict:
    return {"deliveryIdentifier": {"type": kind, "value": value}, **extra}


def message_body(account: ChannelAccount, **overrides: Any) -> dict[str, Any]:
    """A minimal INCOMING message, as a lenient HubSpot bridge sends it."""
    body: dict[str, Any] = {
        "text": "Hello, my order has not arrived",
        "messageDirection": "INCOMING",
        "channelAccountId": str(account.pk),
        "senders": [sender(name="Ada Lovelace")],
    }
    body.update(overrides)
    return body


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A valid PNG image (grey pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def wav_bytes(samples: int = 800) -> bytes:
    """A valid 8 kHz mono 8-bit PCM WAV file (silence)."""
    data = b"\x80" * samples
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def ogg_bytes() -> bytes:
    """The first page header of an Ogg stream (enough for type sniffing)."""
    return b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis" + b"\x00" * 40


def mp4_bytes() -> bytes:
    """An ISO base media (MP4) file's ``ftyp`` box."""
    ftyp = b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2avc1mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + b"\x00" * 32


def upload(
    client: APIClient,
    data: bytes,
    *,
    name: str = "file.bin",
    content_type: str = "application/octet-stream",
) -> Any:
    """POSTs a multipart upload as a client would (the declared type is deliberately ignored)."""
    return client.post(
        FILES_URL,
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def upload_id(client: APIClient, data: bytes, **kwargs: Any) -> str:
    response = upload(client, data, **kwargs)
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


# --- Inbox lists and search (test_inbox_list.py, test_search.py, test_browser_inbox_list.py) ---


def inbox_ticket(
    *,
    texts: tuple[str, ...] = ("Hello, my order has not arrived",),
    account: ChannelAccount | str | None = "new",
    contact: Any = None,
    owner: Any = None,
    status_name: str = "New",
    name: str | None = None,
    priority: str = "",
    at: Any = None,
) -> Any:
    """A ticket as publishing leaves it: contact, thread and INCOMING messages ``texts``,
    the last one at ``at`` (default: now), one minute apart; ``last_message_at`` set.

    ``account``: a channel account, None (no custom channel: an email ticket), or "new".
    ``status_name`` names a status of the default pipeline (its state follows).
    """
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import ContactFactory, default_pipeline
    from tickets.models import Message, MessageStatus, Thread, Ticket

    if account == "new":
        account = ChannelAccountFactory()
    assert account is None or isinstance(account, ChannelAccount)
    contact = contact or ContactFactory()
    status = default_pipeline().statuses.get(name=status_name)
    last = at or timezone.now()
    ticket = Ticket.objects.create(
        name=name or f"{contact} via {account.channel.name if account else 'email'}",
        pipeline=status.pipeline,
        status=status,
        state=status.state,
        priority=priority,
        owner=owner,
        contact=contact,
        channel_account=account,
        last_message_at=last if texts else None,
        closed_at=last if status.state == "CLOSED" else None,
    )
    thread = Thread.objects.create(ticket=ticket, channel_account=account, contact=contact)
    for index, text in enumerate(texts):
        Message.objects.create(
            thread=thread,
            ticket=ticket,
            channel=account.channel if account else None,
            channel_account=account,
            medium=Message.Medium.CUSTOM_CHANNEL if account else Message.Medium.EMAIL,
            direction="INCOMING",
            text=text,
            status=MessageStatus.RECEIVED,
            client_type=Message.ClientType.INTEGRATION,
            sender_contact=contact,
            timestamp=last - timedelta(minutes=len(texts) - 1 - index),
        )
    return ticket


def pending_reply(account: ChannelAccount, text: str = "Hello from support") -> Message:
    """A rep's reply waiting for delivery, on a ticket and thread of its own."""
    pipeline = default_pipeline()
    contact = ContactFactory()
    ticket = Ticket.objects.create(
        name="Reply",
        pipeline=pipeline,
        status=pipeline.statuses.first(),
        contact=contact,
        channel_account=account,
    )
    thread = Thread.objects.create(ticket=ticket, channel_account=account, contact=contact)
    return Message.objects.create(
        thread=thread,
        ticket=ticket,
        channel=account.channel,
        channel_account=account,
        direction="OUTGOING",
        text=text,
        status=MessageStatus.PENDING,
        client_type="HUBSPOT",
        timestamp=timezone.now(),
    )
