"""A rep's reply (``reply_send``): one transaction writes the message and its delivery; after
commit the app receives the payload of API.md, signed, with expiring file links."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client
from standardwebhooks import Webhook

from channels_app.accounts import channel_account_deactivate
from channels_app.models import CustomChannel, Delivery
from channels_app.signing import signing_secret_generate
from tests.factories import UserFactory
from tests.receiver import running_receiver
from tests.tickets.factories import channel_with_account, message_body, messages_url, png_bytes
from tickets.models import File, Message, MessageStatus, Ticket
from tickets.replies import ReplyRefused, reply_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(app_client):
    """An inbound message posted through the API: its ticket, channel and account."""
    channel, account = channel_with_account(app_client.app)
    CustomChannel.objects.filter(pk=channel.pk).update(signing_secret=signing_secret_generate())
    first = app_client.client.post(
        messages_url(channel), message_body(account, integrationThreadId="conv-1"), format="json"
    ).json()
    second = app_client.client.post(
        messages_url(channel),
        message_body(account, integrationThreadId="conv-1", text="Any news?"),
        format="json",
    ).json()
    ticket = Ticket.objects.get(pk=first["ticketId"])
    return ticket, CustomChannel.objects.get(pk=channel.pk), account, first, second


def _rep_file(user, content: bytes, name: str, content_type: str) -> File:
    file = File(uploaded_by=user, name=name, size=len(content), content_type=content_type)
    file.file.save(name, ContentFile(content), save=False)
    file.save()
    return file


def test_the_app_receives_the_reply_after_commit_signed_with_the_payload_of_the_contract(
    conversation, django_capture_on_commit_callbacks
):
    ticket, channel, account, first, second = conversation
    rep = UserFactory(first_name="Grace", last_name="Hopper")
    with running_receiver() as receiver:
        channel.webhook_url = receiver.url
        channel.save(update_fields=["webhook_url"])
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message = reply_send(ticket=ticket, author=rep, text="It ships today.")
        assert receiver.requests == []
        assert Delivery.objects.filter(message=message, status="pending").exists()
        for callback in callbacks:
            callback()
        [request] = receiver.wait_for(1)

    event = Webhook(channel.signing_secret).verify(request.body, request.headers)
    delivery = Delivery.objects.get(message=message)
    assert event["type"] == "OUTGOING_CHANNEL_MESSAGE_CREATED"
    assert event["eventId"] == str(delivery.event_id) == request.headers["webhook-id"]
    assert event["channelId"] == str(channel.pk)
    assert event["channelAccountId"] == str(account.pk)
    assert event["channelIntegrationThreadIds"] == ["conv-1"]
    body = event["message"]
    assert body["id"] == str(message.pk)
    assert body["direction"] == "OUTGOING"
    assert body["text"] == "It ships today."
    assert body["conversationsThreadId"] == first["conversationsThreadId"]
    assert body["inReplyToId"] == second["id"], "replies to the newest incoming message"
    assert body["senders"][0]["actorId"] == f"A-{rep.pk}"
    assert body["senders"][0]["name"] == "Grace Hopper"
    assert body["recipients"] == [
        {
            "actorId": f"V-{ticket.contact_id}",
            "name": "Ada Lovelace",
            "deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+15550100000"},
        }
    ]
    message.refresh_from_db()
    ticket.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert ticket.owner_id == rep.pk, "replying self-assigns an unassigned ticket"


def test_a_reply_to_a_specific_message_names_it(conversation):
    ticket, _channel, _account, first, _second = conversation
    message = reply_send(
        ticket=ticket, author=UserFactory(), text="About this one", in_reply_to_id=int(first["id"])
    )
    assert message.in_reply_to_id == int(first["id"])
    payload = Delivery.objects.get(message=message).payload
    assert payload["message"]["inReplyToId"] == first["id"]


def test_attachments_carry_signed_expiring_links(
    conversation, settings, django_capture_on_commit_callbacks
):
    ticket, channel, _account, _first, _second = conversation
    rep = UserFactory()
    image = _rep_file(rep, png_bytes(), "label.png", "image/png")
    with running_receiver() as receiver:
        channel.webhook_url = receiver.url
        channel.save(update_fields=["webhook_url"])
        with django_capture_on_commit_callbacks(execute=True):
            reply_send(ticket=ticket, author=rep, text="Your label", files=[image])
        [request] = receiver.wait_for(1)
    event = Webhook(channel.signing_secret).verify(request.body, request.headers)
    [attachment] = event["message"]["attachments"]
    assert attachment["type"] == "FILE"
    assert attachment["fileUsageType"] == "IMAGE"
    assert attachment["name"] == "label.png"
    path = attachment["url"].removeprefix(settings.PUBLIC_BASE_URL)
    download = Client().get(path)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == png_bytes()

    settings.FILE_URL_MAX_AGE_SECONDS = -1
    assert Client().get(path).status_code == 404, "the link expires"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("deactivate", "inactive"),
        ("no_outgoing", "does not accept outgoing messages"),
        ("empty", "Write a message"),
        ("bad_type", "not accepted by this channel"),
        ("unknown_reply_to", "not part of this conversation"),
    ],
)
def test_a_refused_reply_stores_nothing(conversation, change, message):
    ticket, channel, account, _first, _second = conversation
    rep = UserFactory()
    kwargs = {"ticket": ticket, "author": rep, "text": "Hello"}
    if change == "deactivate":
        channel_account_deactivate(account=account)
    elif change == "no_outgoing":
        channel.capabilities = {**channel.capabilities, "allowOutgoingMessages": False}
        channel.save(update_fields=["capabilities"])
    elif change == "empty":
        kwargs["text"] = "   "
    elif change == "bad_type":
        kwargs["files"] = [
            _rep_file(rep, b"MZ\x90\x00binary", "tool.exe", "application/x-msdownload")
        ]
    else:
        kwargs["in_reply_to_id"] = 999_999
    before = (Message.objects.count(), Delivery.objects.filter(message__isnull=False).count())
    with pytest.raises(ReplyRefused, match=message):
        reply_send(**kwargs)
    after = (Message.objects.count(), Delivery.objects.filter(message__isnull=False).count())
    assert after == before
    ticket.refresh_from_db()
    assert ticket.owner_id is None


def test_too_many_files_for_the_channel_are_refused(conversation):
    ticket, _channel, _account, _first, _second = conversation
    rep = UserFactory()
    files = [_rep_file(rep, png_bytes(), f"p{i}.png", "image/png") for i in range(3)]
    with pytest.raises(ReplyRefused, match="at most 2 files"):
        reply_send(ticket=ticket, author=rep, text="Pictures", files=files)


@pytest.mark.parametrize("file_count", [1, 2])
def test_replying_costs_the_same_queries_whatever_the_number_of_files(
    conversation, file_count, django_assert_num_queries
):
    ticket, _channel, _account, _first, _second = conversation
    rep = get_user_model().objects.create(username="counted")
    files = [_rep_file(rep, png_bytes(), f"{i}.png", "image/png") for i in range(file_count)]
    # Savepoint; lock backlog row, thread, ticket (ticket_lock); thread with account, channel,
    # contact, identifier; newest incoming; insert message; insert attachments; the rep takes
    # the ticket: its backlog row goes, the decision and its live event, update ticket;
    # attachments with files for the payload; the outbox insert in its own savepoint; the
    # message's live event; release.
    with django_assert_num_queries(18):
        reply_send(ticket=ticket, author=rep, text="x", files=files)
