"""Builders for the conversation tests: a channel's conversation with a contact, inbound
messages with real files, reps, and a status that requires properties."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from channels_app.models import App, ChannelAccount, CustomChannel
from channels_app.signing import signing_secret_generate
from tests.factories import AppFactory, UserFactory, default_pipeline
from tests.tickets.factories import channel_with_account
from tickets.models import File, Message, PipelineStatus, Ticket
from tickets.publish import message_publish_inbound
from tickets.services import file_create

CONTACT_PHONE = "+15550100000"


@dataclass
class Scene:
    app: App
    channel: CustomChannel
    account: ChannelAccount
    ticket: Ticket
    first: Message


def app_file(app: App, data: bytes, name: str) -> File:
    """A file the app uploaded (its type sniffed from the bytes)."""
    return file_create(app=app, upload=SimpleUploadedFile(name, data))


def inbound(
    scene_or_account: Scene | ChannelAccount,
    *,
    text: str = "Hello, my order has not arrived",
    thread: str = "conv-1",
    attachments: list[dict[str, Any]] | None = None,
    name: str = "Ada Lovelace",
    phone: str = CONTACT_PHONE,
) -> Message:
    """An INCOMING message as the messages API stores it."""
    account = scene_or_account.account if isinstance(scene_or_account, Scene) else scene_or_account
    channel = account.channel
    return message_publish_inbound(
        app=channel.app,
        channel=channel,
        account=account,
        direction="INCOMING",
        text=text,
        senders=[{"deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": phone}, "name": name}],
        integration_thread_id=thread,
        attachments=attachments,
    ).message


def conversation(
    *,
    webhook_url: str | None = None,
    contact_email: str = "",
    text: str = "Hello, my order has not arrived",
    attachments: list[dict[str, Any]] | None = None,
    app: App | None = None,
    **capabilities: Any,
) -> Scene:
    """A channel account (the default test capabilities with ``capabilities`` over them) and a
    first inbound message, hence a ticket; ``webhook_url`` makes replies reach a receiver."""
    app = app or AppFactory()
    channel, account = channel_with_account(app, **capabilities)
    channel.signing_secret = signing_secret_generate()
    if webhook_url is not None:
        channel.webhook_url = webhook_url
    channel.save(update_fields=["signing_secret", "webhook_url"])
    first = inbound(account, text=text, attachments=attachments)
    ticket = Ticket.objects.get(pk=first.ticket_id)
    if contact_email:
        contact = ticket.contact
        contact.email = contact_email
        contact.save(update_fields=["email"])
    return Scene(app=app, channel=channel, account=account, ticket=ticket, first=first)


def rep(username: str | None = None, **fields: Any) -> Any:
    user = UserFactory(**({"username": username} if username else {}), **fields)
    user.save()  # The factory sets the password after saving; sessions hash the stored one.
    return user


def conditional_status(name: str = "Escalated", required: tuple[str, ...] = ("priority",)) -> Any:
    """A status of the default pipeline that requires ``required`` before a ticket enters it."""
    pipeline = default_pipeline()
    status, _ = PipelineStatus.objects.update_or_create(
        pipeline=pipeline,
        name=name,
        defaults={"state": "OPEN", "display_order": 10, "required_properties": list(required)},
    )
    return status
