"""``/conversations/v3/custom-channels/{channelId}/messages``, as an external app uses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from routing.models import RoutingRule
from tests.conftest import make_app_client
from tests.factories import ChannelAccountFactory, ContactFactory
from tests.tickets.factories import (
    channel_with_account,
    message_body,
    message_url,
    messages_url,
    mp4_bytes,
    png_bytes,
    sender,
    upload_id,
    wav_bytes,
)
from tickets.live import live_events_push
from tickets.models import (
    Attachment,
    Contact,
    ContactIdentifier,
    IdempotencyRecord,
    Message,
    Pipeline,
    PipelineStatus,
    Thread,
    Ticket,
)
from tickets.services import ticket_set_status

pytestmark = pytest.mark.django_db

MESSAGE_KEYS = {
    "id", "type", "conversationsThreadId", "channelId", "channelAccountId", "direction", "text",
    "richText", "attachments", "senders", "recipients", "inReplyToId", "createdAt", "updatedAt",
    "createdBy", "client", "status", "archived", "truncationStatus", "ticketId",
}  # fmt: skip


@pytest.fixture
def setup(app_client):
    channel, account = channel_with_account(app_client.app)
    return app_client, channel, account


@pytest.fixture
def di_setup(app_client):
    channel, account = channel_with_account(app_client.app, threading_model="DELIVERY_IDENTIFIER")
    return app_client, channel, account


def _post(client, channel, body: Any, **headers: str):
    return client.post(messages_url(channel), body, format="json", **headers)


def _counts() -> dict[str, int]:
    models = (Message, Thread, Ticket, Contact, ContactIdentifier, Attachment, IdempotencyRecord)
    return {model.__name__: model.objects.count() for model in models}


def _assert_400_at(response, path: str, code: str | None = None) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "VALIDATION_ERROR"
    paths = [error["in"] for error in body["errors"]]
    assert path in paths, paths
    if code is not None:
        assert body["errors"][paths.index(path)]["code"] == code
    return body


# --- Publishing: the happy paths ------------------------------------------------------------


def test_publish_incoming_creates_contact_thread_ticket_and_message(setup):
    app_client, channel, account = setup
    response = _post(
        app_client.client,
        channel,
        message_body(account, integrationThreadId="conv-1", integrationIdempotencyId="m-1"),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == MESSAGE_KEYS
    message = Message.objects.get()
    contact = Contact.objects.get()
    assert contact.name == "Ada Lovelace"
    assert contact.phone == "+15550100000"
    assert body["id"] == str(message.pk)
    assert body["type"] == "MESSAGE"
    assert body["conversationsThreadId"] == str(message.thread_id)
    assert body["channelId"] == str(channel.pk)
    assert body["channelAccountId"] == str(account.pk)
    assert body["ticketId"] == str(message.ticket_id)
    assert body["direction"] == "INCOMING"
    assert body["text"] == "Hello, my order has not arrived"
    assert body["richText"] == ""
    assert body["attachments"] == []
    assert body["senders"] == [
        {
            "actorId": f"V-{contact.pk}",
            "name": "Ada Lovelace",
            "deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+15550100000"},
        }
    ]
    # Recipients default to the account's own delivery identifier.
    assert body["recipients"] == [
        {
            "deliveryIdentifier": {
                "type": account.delivery_identifier_type,
                "value": account.delivery_identifier_value,
            }
        }
    ]
    assert body["inReplyToId"] is None
    assert body["createdBy"] == f"V-{contact.pk}"
    assert body["client"] == {"clientType": "INTEGRATION", "integrationAppId": app_client.app.pk}
    assert body["status"] == {"statusType": "RECEIVED"}
    assert body["archived"] is False
    assert body["truncationStatus"] == "NOT_TRUNCATED"
    assert body["createdAt"].endswith("Z")
    assert len(body["createdAt"]) == len("2026-11-25T10:00:00.000Z")
    ticket = message.ticket
    assert ticket.contact == contact
    assert ticket.channel_account == account
    assert ticket.state == "OPEN"
    assert ticket.last_message_at == message.timestamp
    thread = message.thread
    assert thread.threading_key == "t:conv-1"
    assert thread.integration_thread_id == "conv-1"
    assert thread.is_open


def test_timestamp_defaults_to_now_and_accepts_any_iso_form(setup):
    app_client, channel, account = setup
    before = timezone.now()
    first = _post(app_client.client, channel, message_body(account))
    assert first.status_code == 201
    assert Message.objects.get(pk=first.json()["id"]).timestamp >= before - timedelta(seconds=1)

    # HubSpot's SDKs send microseconds and +00:00.
    second = _post(
        app_client.client,
        channel,
        message_body(account, timestamp="2026-11-25T10:00:00.123456+00:00"),
    )
    assert second.status_code == 201
    stored = Message.objects.get(pk=second.json()["id"]).timestamp
    assert stored == datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)


def test_full_hubspot_body_with_unknown_fields_is_accepted(setup):
    app_client, channel, account = setup
    body = message_body(
        account,
        recipients=[sender(account.delivery_identifier_value, name="Our line")],
        timestamp="2026-11-25T10:00:00.000Z",
        attachments=[],
        preResolvedContacts={"contacts": []},
        somethingNew=True,
    )
    response = _post(app_client.client, channel, body)
    assert response.status_code == 201
    assert response.json()["recipients"][0]["name"] == "Our line"


@pytest.mark.parametrize("prefix", ["2026-03", "2026-09"])
def test_dated_prefixes_serve_the_same_operation(setup, prefix):
    app_client, channel, account = setup
    url = f"/conversations/custom-channels/{prefix}/{channel.pk}/messages"
    response = app_client.client.post(url, message_body(account), format="json")
    assert response.status_code == 201
    message_id = response.json()["id"]
    assert app_client.client.get(f"{url}/{message_id}").status_code == 200


def test_publish_outgoing_recorded_by_the_app(setup):
    app_client, channel, account = setup
    body = message_body(
        account,
        messageDirection="OUTGOING",
        senders=[sender(account.delivery_identifier_value, name="Support")],
        recipients=[sender("+15550100077", name="Grace Hopper")],
    )
    response = _post(app_client.client, channel, body)

    assert response.status_code == 201, response.content
    data = response.json()
    contact = Contact.objects.get(phone="+15550100077")
    assert contact.name == "Grace Hopper"
    assert data["direction"] == "OUTGOING"
    assert data["status"] == {"statusType": "SENT"}
    assert data["createdBy"] == f"I-{app_client.app.pk}"
    assert data["senders"][0]["actorId"] == f"I-{app_client.app.pk}"
    assert data["recipients"][0]["actorId"] == f"V-{contact.pk}"
    assert Ticket.objects.get().contact == contact


def test_rich_text_is_sanitised_to_the_channels_formatting(app_client):
    channel, account = channel_with_account(app_client.app, richText=["BOLD", "HYPERLINK"])
    html = (
        '<p onclick="x()">Hi <b>there</b> <i>you</i> <script>alert(1)</script>'
        '<a href="javascript:alert(1)">bad</a> <a href="https://example.com">ok</a></p>'
    )
    response = _post(app_client.client, channel, message_body(account, richText=html))
    assert response.status_code == 201
    rich = response.json()["richText"]
    assert "<b>there</b>" in rich
    assert "<i>" not in rich  # ITALIC is not a capability of this channel
    assert "you" in rich
    assert "script" not in rich
    assert "alert" not in rich
    assert "onclick" not in rich
    assert "javascript" not in rich
    assert 'href="https://example.com"' in rich
    assert rich.startswith("<p>")


def test_rich_text_on_a_plain_channel_keeps_only_structure(setup):
    app_client, channel, account = setup
    response = _post(
        app_client.client, channel, message_body(account, richText="<p>a<br><b>b</b></p>")
    )
    assert response.json()["richText"] == "<p>a<br>b</p>"


def test_get_message(setup):
    app_client, channel, account = setup
    created = _post(app_client.client, channel, message_body(account)).json()
    response = app_client.client.get(message_url(channel, created["id"]))
    assert response.status_code == 200
    assert response.json() == {**created, "attachments": []}


# --- Attachments ----------------------------------------------------------------------------


def test_file_attachments_infer_their_usage_type_from_the_sniffed_type(setup):
    app_client, channel, account = setup
    client = app_client.client
    image = upload_id(client, png_bytes(), name="voice.ogg", content_type="audio/ogg")
    audio = upload_id(client, wav_bytes(), name="a.png", content_type="image/png")
    video = upload_id(client, mp4_bytes(), name="clip.mp4")
    sticker = upload_id(client, png_bytes(3, 3), name="sticker.png")
    document = upload_id(client, b"plain notes", name="notes.txt")
    body = message_body(
        account,
        text="",
        attachments=[
            {"type": "FILE", "fileId": image},
            {"type": "FILE", "fileId": audio},
            {"type": "FILE", "fileId": video},
            {"type": "FILE", "fileId": sticker, "fileUsageType": "STICKER"},
            {"type": "FILE", "fileId": int(document)},
        ],
    )
    response = _post(client, channel, body)

    assert response.status_code == 201, response.content
    attachments = response.json()["attachments"]
    assert [item["fileUsageType"] for item in attachments] == [
        "IMAGE", "AUDIO", "OTHER", "STICKER", "OTHER",
    ]  # fmt: skip
    assert attachments[2]["contentType"] == "video/mp4"
    assert attachments[0]["name"] == "voice.ogg"
    assert attachments[0]["fileId"] == image
    assert attachments[0]["type"] == "FILE"
    assert "/files/download/" in attachments[0]["url"]
    assert response.json()["text"] == ""


def test_structured_attachments_are_stored_and_shown(setup):
    app_client, channel, account = setup
    items = [
        {"type": "LOCATION", "latitude": 52.5, "longitude": 13.4, "name": "Office"},
        {"type": "CONTACT", "contactProfile": {"name": "Bob", "phone": "+4915112345678"}},
        {
            "type": "QUICK_REPLIES",
            "quickReplies": [{"label": "Yes", "value": "yes", "valueType": "TEXT"}],
        },
        {"type": "UNSUPPORTED_CONTENT"},
    ]
    response = _post(app_client.client, channel, message_body(account, attachments=items))
    assert response.status_code == 201, response.content
    assert response.json()["attachments"] == items
    assert list(Attachment.objects.values_list("type", flat=True)) == [
        "LOCATION", "CONTACT", "QUICK_REPLIES", "UNSUPPORTED_CONTENT",
    ]  # fmt: skip


def test_another_apps_file_is_unknown(setup, other_app_client):
    app_client, channel, account = setup
    foreign = upload_id(other_app_client.client, png_bytes())
    body = message_body(account, attachments=[{"type": "FILE", "fileId": foreign}])
    _assert_400_at(_post(app_client.client, channel, body), "attachments[0].fileId")
    assert Message.objects.count() == 0


@pytest.fixture
def limited(app_client):
    """A channel whose replies take at most 2 PNG/JPEG/PDF files of 1000 B, 1500 B in total."""
    return channel_with_account(
        app_client.app,
        outgoingAttachmentTypes=["FILE"],
        allowedFileAttachmentMimeTypes=["image/png", "application/pdf"],
        maxFileAttachmentCount=2,
        maxFileAttachmentSizeBytes=1000,
        maxTotalFileAttachmentSizeBytes=1500,
    )


def _outgoing(account, attachments):
    return message_body(
        account,
        messageDirection="OUTGOING",
        senders=[sender(account.delivery_identifier_value)],
        recipients=[sender("+15550100099")],
        attachments=attachments,
    )


def _png_of_size(size: int) -> bytes:
    data = png_bytes()
    return data + b"\x00" * (size - len(data))


@pytest.mark.parametrize(
    ("files", "path", "code"),
    [
        ([wav_bytes()], "attachments[0].fileId", "NOT_ALLOWED"),
        ([_png_of_size(1001)], "attachments[0].fileId", "TOO_LARGE"),
        ([png_bytes(), png_bytes(), png_bytes()], "attachments", "TOO_MANY"),
        ([_png_of_size(800), _png_of_size(800)], "attachments", "TOO_LARGE"),
    ],
)
def test_outgoing_attachments_obey_the_channels_limits(app_client, limited, files, path, code):
    channel, account = limited
    ids = [upload_id(app_client.client, data) for data in files]
    attachments = [{"type": "FILE", "fileId": file_id} for file_id in ids]
    before = _counts()

    response = _post(app_client.client, channel, _outgoing(account, attachments))

    _assert_400_at(response, path, code)
    assert _counts() == before
    # The same files arriving from a contact obey only the server's limit.
    incoming = _post(app_client.client, channel, message_body(account, attachments=attachments))
    assert incoming.status_code == 201


def test_outgoing_files_on_a_channel_without_file_replies_are_refused(app_client):
    channel, account = channel_with_account(app_client.app, outgoingAttachmentTypes=[])
    file_id = upload_id(app_client.client, png_bytes())
    response = _post(
        app_client.client, channel, _outgoing(account, [{"type": "FILE", "fileId": file_id}])
    )
    _assert_400_at(response, "attachments[0].type", "NOT_ALLOWED")


def test_outgoing_attachments_within_limits_are_accepted(app_client, limited):
    channel, account = limited
    file_id = upload_id(app_client.client, png_bytes())
    response = _post(
        app_client.client, channel, _outgoing(account, [{"type": "FILE", "fileId": file_id}])
    )
    assert response.status_code == 201


def test_incoming_file_above_a_lowered_server_limit_is_refused(setup, settings):
    app_client, channel, account = setup
    file_id = upload_id(app_client.client, _png_of_size(600))
    settings.FILE_UPLOAD_MAX_BYTES = 500
    body = message_body(account, attachments=[{"type": "FILE", "fileId": file_id}])
    _assert_400_at(_post(app_client.client, channel, body), "attachments[0].fileId", "TOO_LARGE")


# --- Validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"text": None}, "text", "REQUIRED"),
        ({"text": ""}, "text", "REQUIRED"),
        ({"messageDirection": "SIDEWAYS"}, "messageDirection", "INVALID_ENUM"),
        ({"senders": []}, "senders", None),
        ({"senders": "x"}, "senders", None),
        ({"senders": [{"name": "no identifier"}]}, "senders[0].deliveryIdentifier", "REQUIRED"),
        (
            {"senders": [sender("555-0100")]},
            "senders[0].deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
        ({"senders": [sender("+1555")]}, "senders[0].deliveryIdentifier.value", "INVALID_FORMAT"),
        (
            {"senders": [sender("not-an-email", "HS_EMAIL_ADDRESS")]},
            "senders[0].deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
        (
            {"senders": [sender("  ", "CHANNEL_SPECIFIC_OPAQUE_ID")]},
            "senders[0].deliveryIdentifier.value",
            None,
        ),
        (
            {"senders": [sender("x", "HS_FAX")]},
            "senders[0].deliveryIdentifier.type",
            "INVALID_ENUM",
        ),
        (
            {"recipients": [sender("bad")]},
            "recipients[0].deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
        ({"timestamp": "yesterday"}, "timestamp", "INVALID_FORMAT"),
        ({"attachments": [{"type": "GIF"}]}, "attachments[0].type", "INVALID_ENUM"),
        ({"attachments": [{"type": "FILE"}]}, "attachments[0].fileId", "REQUIRED"),
        ({"attachments": [{"type": "FILE", "fileId": "abc"}]}, "attachments[0].fileId", None),
        ({"attachments": [{"type": "FILE", "fileId": "999999"}]}, "attachments[0].fileId", None),
        (
            {"attachments": [{"type": "FILE", "fileId": "1", "fileUsageType": "VIDEO"}]},
            "attachments[0].fileUsageType",
            "INVALID_ENUM",
        ),
        ({"attachments": [{"type": "LOCATION", "latitude": 1}]}, "attachments[0].longitude", None),
        ({"attachments": [{"type": "QUICK_REPLIES"}]}, "attachments[0].quickReplies", None),
        ({"inReplyToId": "999999"}, "inReplyToId", "OBJECT_NOT_FOUND"),
        ({"inReplyToId": "abc"}, "inReplyToId", None),
        ({"associateWithContactId": "999999"}, "associateWithContactId", "OBJECT_NOT_FOUND"),
        ({"messageDirection": "OUTGOING", "recipients": []}, "recipients", "REQUIRED"),
    ],
)
def test_invalid_input_is_400_at_its_path_and_stores_nothing(setup, change, path, code):
    app_client, channel, account = setup
    body = {**message_body(account), **change}
    body = {key: value for key, value in body.items() if value is not None}
    before = _counts()
    _assert_400_at(_post(app_client.client, channel, body), path, code)
    assert _counts() == before


def test_phone_error_says_e164(setup):
    app_client, channel, account = setup
    body = message_body(account, senders=[sender("0555 0100")])
    error = _assert_400_at(
        _post(app_client.client, channel, body), "senders[0].deliveryIdentifier.value"
    )
    assert "E.164" in error["errors"][0]["message"]


@pytest.mark.parametrize("field", ["text", "messageDirection", "channelAccountId", "senders"])
def test_required_fields(setup, field):
    app_client, channel, account = setup
    body = message_body(account)
    del body[field]
    _assert_400_at(_post(app_client.client, channel, body), field, "REQUIRED")


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"{not json"])
def test_a_body_that_is_not_a_json_object_is_400(setup, raw):
    app_client, channel, _ = setup
    response = app_client.client.post(messages_url(channel), raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_in_reply_to_a_message_of_another_channel_is_400(setup):
    app_client, channel, account = setup
    other_channel, other_account = channel_with_account(app_client.app)
    elsewhere = _post(app_client.client, other_channel, message_body(other_account)).json()
    body = message_body(account, inReplyToId=elsewhere["id"])
    _assert_400_at(_post(app_client.client, channel, body), "inReplyToId")


def test_in_reply_to_a_message_of_the_conversation(setup):
    app_client, channel, account = setup
    first = _post(app_client.client, channel, message_body(account)).json()
    response = _post(app_client.client, channel, message_body(account, inReplyToId=first["id"]))
    assert response.status_code == 201
    assert response.json()["inReplyToId"] == first["id"]


def test_a_malformed_idempotency_key_is_400(setup):
    app_client, channel, account = setup
    response = _post(
        app_client.client, channel, message_body(account), HTTP_IDEMPOTENCY_KEY="k" * 256
    )
    _assert_400_at(response, "Idempotency-Key")


# --- Authentication and access --------------------------------------------------------------


def test_publish_needs_a_token(setup, anonymous_client):
    _, channel, account = setup
    response = _post(anonymous_client, channel, message_body(account))
    assert response.status_code == 401
    assert response.json()["category"] == "UNAUTHORIZED"
    assert Message.objects.count() == 0


def test_publish_needs_the_write_scope_and_get_the_read_scope(setup):
    app_client, channel, account = setup
    created = _post(app_client.client, channel, message_body(account)).json()
    reader = make_app_client(app=app_client.app, scopes=("conversations.custom_channels.read",))
    assert _post(reader.client, channel, message_body(account)).status_code == 403
    assert reader.client.get(message_url(channel, created["id"])).status_code == 200
    patch = reader.client.patch(
        message_url(channel, created["id"]), {"statusType": "READ"}, format="json"
    )
    assert patch.status_code == 403


def test_another_apps_channel_is_404(setup, other_app_client):
    _, channel, account = setup
    response = _post(other_app_client.client, channel, message_body(account))
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_another_apps_account_on_my_channel_is_404(setup, other_app_client):
    app_client, channel, _ = setup
    _, foreign_account = channel_with_account(other_app_client.app)
    response = _post(app_client.client, channel, message_body(foreign_account))
    assert response.status_code == 404


def test_an_account_of_my_other_channel_is_404(setup):
    app_client, channel, _ = setup
    _, sibling = channel_with_account(app_client.app)
    assert _post(app_client.client, channel, message_body(sibling)).status_code == 404


@pytest.mark.parametrize("account_id", ["abc", "999999", "-1", "1.5"])
def test_unknown_or_malformed_account_id_is_404(setup, account_id):
    app_client, channel, account = setup
    body = message_body(account, channelAccountId=account_id)
    assert _post(app_client.client, channel, body).status_code == 404


def test_an_archived_account_is_404(setup):
    app_client, channel, account = setup
    account.archived = True
    account.save()
    assert _post(app_client.client, channel, message_body(account)).status_code == 404


def test_an_archived_channel_is_404(setup):
    app_client, channel, account = setup
    channel.archived = True
    channel.save()
    assert _post(app_client.client, channel, message_body(account)).status_code == 404


def test_an_inactive_account_is_409_and_stores_nothing(setup):
    app_client, channel, account = setup
    account.authorized = False
    account.save()
    response = _post(app_client.client, channel, message_body(account))
    assert response.status_code == 409
    assert response.json()["category"] == "CONFLICT"
    assert _counts()["Message"] == 0
    assert _counts()["Contact"] == 0


def test_get_message_of_another_app_or_channel_is_404(setup, other_app_client):
    app_client, channel, account = setup
    created = _post(app_client.client, channel, message_body(account)).json()
    other_channel, _ = channel_with_account(app_client.app)
    assert other_app_client.client.get(message_url(channel, created["id"])).status_code == 404
    assert app_client.client.get(message_url(other_channel, created["id"])).status_code == 404
    assert app_client.client.get(message_url(channel, "nope")).status_code == 404
    assert app_client.client.get(message_url(channel, "999999")).status_code == 404


# --- Idempotency ----------------------------------------------------------------------------


def test_same_integration_idempotency_id_replays_the_first_message(setup):
    app_client, channel, account = setup
    body = message_body(account, integrationIdempotencyId="wamid.1")
    first = _post(app_client.client, channel, body)
    before = _counts()

    retry = _post(app_client.client, channel, {**body, "text": "edited on the way"})

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["text"] == first.json()["text"]
    assert _counts() == before


def test_integration_idempotency_id_is_per_channel(setup):
    app_client, channel, account = setup
    other_channel, other_account = channel_with_account(app_client.app)
    first = _post(
        app_client.client, channel, message_body(account, integrationIdempotencyId="same")
    )
    second = _post(
        app_client.client,
        other_channel,
        message_body(other_account, integrationIdempotencyId="same"),
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_idempotency_key_replays_the_same_request(setup):
    app_client, channel, account = setup
    body = message_body(account)
    first = _post(app_client.client, channel, body, HTTP_IDEMPOTENCY_KEY="key-1")
    before = _counts()
    # Key order and spacing are not part of the request's identity.
    reordered = dict(reversed(list(body.items())))
    retry = _post(app_client.client, channel, reordered, HTTP_IDEMPOTENCY_KEY='"key-1"')

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert _counts() == before


def test_idempotency_key_reused_with_another_body_is_422(setup):
    app_client, channel, account = setup
    _post(app_client.client, channel, message_body(account), HTTP_IDEMPOTENCY_KEY="key-2")
    before = _counts()
    response = _post(
        app_client.client,
        channel,
        message_body(account, text="something else"),
        HTTP_IDEMPOTENCY_KEY="key-2",
    )
    assert response.status_code == 422
    assert response.json()["category"] == "UNPROCESSABLE"
    assert _counts() == before


def test_idempotency_key_reused_on_another_channel_is_422(setup):
    app_client, channel, account = setup
    other_channel, other_account = channel_with_account(app_client.app)
    body = message_body(account)
    _post(app_client.client, channel, body, HTTP_IDEMPOTENCY_KEY="key-3")
    other_body = {**body, "channelAccountId": str(other_account.pk)}
    response = _post(app_client.client, other_channel, other_body, HTTP_IDEMPOTENCY_KEY="key-3")
    assert response.status_code == 422


def test_idempotency_keys_are_per_app(setup, other_app_client):
    app_client, channel, account = setup
    other_channel, other_account = channel_with_account(other_app_client.app)
    first = _post(app_client.client, channel, message_body(account), HTTP_IDEMPOTENCY_KEY="k")
    second = _post(
        other_app_client.client,
        other_channel,
        message_body(other_account),
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert first.status_code == second.status_code == 201


def test_a_replay_is_answered_even_after_the_account_was_deactivated(setup):
    app_client, channel, account = setup
    body = message_body(account, integrationIdempotencyId="before-deactivation")
    first = _post(app_client.client, channel, body)
    account.authorized = False
    account.save()
    retry = _post(app_client.client, channel, body)
    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]


# --- Threading ------------------------------------------------------------------------------


def test_integration_thread_id_groups_messages_in_one_thread_and_ticket(setup):
    app_client, channel, account = setup
    one = _post(app_client.client, channel, message_body(account, integrationThreadId="a"))
    two = _post(app_client.client, channel, message_body(account, integrationThreadId="a"))
    other = _post(app_client.client, channel, message_body(account, integrationThreadId="b"))
    assert one.json()["conversationsThreadId"] == two.json()["conversationsThreadId"]
    assert one.json()["ticketId"] == two.json()["ticketId"]
    assert other.json()["conversationsThreadId"] != one.json()["conversationsThreadId"]
    assert other.json()["ticketId"] != one.json()["ticketId"]
    # The same sender is one contact across both conversations.
    assert Contact.objects.count() == 1


def test_without_integration_thread_id_every_message_starts_a_thread(setup):
    app_client, channel, account = setup
    one = _post(app_client.client, channel, message_body(account)).json()
    two = _post(app_client.client, channel, message_body(account)).json()
    assert one["conversationsThreadId"] != two["conversationsThreadId"]
    assert Thread.objects.filter(threading_key__isnull=True).count() == 2


def test_integration_thread_ids_are_per_account(app_client):
    channel, account = channel_with_account(app_client.app)
    second_account = ChannelAccountFactory(channel=channel)
    one = _post(app_client.client, channel, message_body(account, integrationThreadId="x"))
    two = _post(app_client.client, channel, message_body(second_account, integrationThreadId="x"))
    assert one.json()["conversationsThreadId"] != two.json()["conversationsThreadId"]


def test_delivery_identifier_threading_groups_by_sender(di_setup):
    app_client, channel, account = di_setup
    one = _post(app_client.client, channel, message_body(account, integrationThreadId="ignored"))
    two = _post(
        app_client.client, channel, message_body(account, senders=[sender("+1 555 010 0000")])
    )
    other = _post(
        app_client.client, channel, message_body(account, senders=[sender("+15550100001")])
    )
    assert one.json()["conversationsThreadId"] == two.json()["conversationsThreadId"]
    assert other.json()["conversationsThreadId"] != one.json()["conversationsThreadId"]
    identifier = ContactIdentifier.objects.get(value="+15550100000")
    assert Thread.objects.get(pk=one.json()["conversationsThreadId"]).threading_key == (
        f"d:{identifier.pk}"
    )


def _closed_status() -> PipelineStatus:
    return PipelineStatus.objects.get(pipeline__is_default=True, state="CLOSED")


@pytest.mark.parametrize("fixture", ["setup", "di_setup"])
def test_a_message_for_a_closed_ticket_starts_a_new_thread_and_ticket(request, fixture):
    app_client, channel, account = request.getfixturevalue(fixture)
    body = message_body(account, integrationThreadId="conv")
    first = _post(app_client.client, channel, body).json()
    ticket_set_status(ticket=Ticket.objects.get(pk=first["ticketId"]), status=_closed_status())
    assert not Thread.objects.get(pk=first["conversationsThreadId"]).is_open

    second = _post(app_client.client, channel, body).json()
    third = _post(app_client.client, channel, body).json()

    assert second["ticketId"] != first["ticketId"]
    assert second["conversationsThreadId"] != first["conversationsThreadId"]
    assert third["conversationsThreadId"] == second["conversationsThreadId"]
    assert Ticket.objects.get(pk=second["ticketId"]).state == "OPEN"


def test_a_closed_ticket_whose_thread_was_left_open_is_not_reused(setup):
    app_client, channel, account = setup
    body = message_body(account, integrationThreadId="conv")
    first = _post(app_client.client, channel, body).json()
    # A writer that closed the ticket without closing its thread.
    Ticket.objects.filter(pk=first["ticketId"]).update(status=_closed_status(), state="CLOSED")

    second = _post(app_client.client, channel, body).json()

    assert second["ticketId"] != first["ticketId"]
    assert not Thread.objects.get(pk=first["conversationsThreadId"]).is_open


def test_reopening_a_ticket_reopens_its_thread(setup):
    app_client, channel, account = setup
    body = message_body(account, integrationThreadId="conv")
    first = _post(app_client.client, channel, body).json()
    ticket = Ticket.objects.get(pk=first["ticketId"])
    ticket_set_status(ticket=ticket, status=_closed_status())
    new_status = PipelineStatus.objects.get(pipeline__is_default=True, name="New")
    ticket_set_status(ticket=ticket, status=new_status)

    second = _post(app_client.client, channel, body).json()
    assert second["ticketId"] == first["ticketId"]


# --- Contacts -------------------------------------------------------------------------------


def test_email_senders_match_case_insensitively(app_client):
    channel, account = channel_with_account(
        app_client.app, deliveryIdentifierTypes=["HS_EMAIL_ADDRESS"]
    )
    one = _post(
        app_client.client,
        channel,
        message_body(account, senders=[sender("Ada@Example.COM", "HS_EMAIL_ADDRESS")]),
    )
    two = _post(
        app_client.client,
        channel,
        message_body(account, senders=[sender("ada@example.com ", "HS_EMAIL_ADDRESS")]),
    )
    assert one.status_code == two.status_code == 201
    contact = Contact.objects.get()
    assert contact.email == "ada@example.com"
    assert one.json()["senders"][0]["actorId"] == two.json()["senders"][0]["actorId"]
    assert one.json()["senders"][0]["deliveryIdentifier"]["value"] == "ada@example.com"


def test_phone_formats_match_the_same_contact_across_channels(app_client):
    channel, account = channel_with_account(app_client.app)
    other_channel, other_account = channel_with_account(app_client.app)
    _post(app_client.client, channel, message_body(account, senders=[sender("+1 (555) 010-0000")]))
    _post(
        app_client.client,
        other_channel,
        message_body(other_account, senders=[sender("+15550100000")]),
    )
    assert Contact.objects.count() == 1
    assert ContactIdentifier.objects.get().value == "+15550100000"


def test_opaque_ids_are_per_channel(app_client):
    channel, account = channel_with_account(app_client.app)
    other_channel, other_account = channel_with_account(app_client.app)
    opaque = [sender("U123", "CHANNEL_SPECIFIC_OPAQUE_ID", name="Slack user")]
    _post(app_client.client, channel, message_body(account, senders=opaque))
    _post(app_client.client, channel, message_body(account, senders=opaque))
    _post(app_client.client, other_channel, message_body(other_account, senders=opaque))
    assert Contact.objects.count() == 2
    assert set(ContactIdentifier.objects.values_list("channel_id", flat=True)) == {
        channel.pk,
        other_channel.pk,
    }


def test_a_new_contact_without_a_name_is_named_after_its_identifier(setup):
    app_client, channel, account = setup
    _post(app_client.client, channel, message_body(account, senders=[sender("+15550100042")]))
    assert Contact.objects.get().name == "+15550100042"


def test_associate_with_contact_id_overrides_resolution(setup):
    app_client, channel, account = setup
    known = ContactFactory(name="Known customer")
    response = _post(
        app_client.client,
        channel,
        message_body(account, associateWithContactId=str(known.pk)),
    )
    assert response.status_code == 201
    assert response.json()["senders"][0]["actorId"] == f"V-{known.pk}"
    assert Contact.objects.count() == 1
    # The identifier now leads to that contact.
    assert ContactIdentifier.objects.get().contact == known
    follow_up = _post(app_client.client, channel, message_body(account))
    assert follow_up.json()["senders"][0]["actorId"] == f"V-{known.pk}"


def test_each_sender_of_one_integration_thread_is_its_own_contact(setup):
    """A follow-up takes its contact from the thread only when it comes from the address that
    started the thread; another sender in the same thread is resolved (and created) as usual."""
    app_client, channel, account = setup
    ada, bob = sender("+15550100000", name="Ada"), sender("+15550100001", name="Bob")
    first = _post(app_client.client, channel, message_body(account, integrationThreadId="g"))
    from_bob = _post(
        app_client.client, channel, message_body(account, integrationThreadId="g", senders=[bob])
    )
    from_ada = _post(
        app_client.client, channel, message_body(account, integrationThreadId="g", senders=[ada])
    )

    threads = {r.json()["conversationsThreadId"] for r in (first, from_bob, from_ada)}
    assert len(threads) == 1
    ada_contact = ContactIdentifier.objects.get(value="+15550100000").contact
    bob_contact = ContactIdentifier.objects.get(value="+15550100001").contact
    assert ada_contact != bob_contact
    assert from_bob.json()["senders"][0]["actorId"] == f"V-{bob_contact.pk}"
    assert from_ada.json()["senders"][0]["actorId"] == f"V-{ada_contact.pk}"
    assert Message.objects.get(pk=from_bob.json()["id"]).sender_contact == bob_contact
    assert Message.objects.get(pk=from_ada.json()["id"]).sender_contact == ada_contact


def test_associate_with_contact_id_applies_to_a_follow_up_too(setup):
    app_client, channel, account = setup
    body = message_body(account, integrationThreadId="conv")
    _post(app_client.client, channel, body)
    known = ContactFactory(name="Known customer")
    follow_up = _post(app_client.client, channel, {**body, "associateWithContactId": str(known.pk)})
    assert follow_up.json()["senders"][0]["actorId"] == f"V-{known.pk}"
    assert Message.objects.get(pk=follow_up.json()["id"]).sender_contact == known


# --- Tickets --------------------------------------------------------------------------------


def test_a_new_ticket_takes_the_routing_rules_properties(setup):
    app_client, channel, account = setup
    pipeline = Pipeline.objects.create(name="Billing")
    first = PipelineStatus.objects.create(pipeline=pipeline, name="Triage", display_order=0)
    start = PipelineStatus.objects.create(pipeline=pipeline, name="Billing queue", display_order=1)
    RoutingRule.objects.create(
        channel_account=account,
        pipeline=pipeline,
        starting_status=start,
        priority="HIGH",
        category="BILLING_ISSUE",
        name_template="SMS from {contact} on {channel}",
    )
    response = _post(app_client.client, channel, message_body(account))
    ticket = Ticket.objects.get(pk=response.json()["ticketId"])
    assert ticket.pipeline == pipeline
    assert ticket.status == start != first
    assert ticket.priority == "HIGH"
    assert ticket.category == "BILLING_ISSUE"
    assert ticket.name == f"SMS from Ada Lovelace on {channel.name}"


def test_without_a_routing_rule_a_ticket_takes_the_defaults(setup):
    app_client, channel, account = setup
    response = _post(app_client.client, channel, message_body(account))
    ticket = Ticket.objects.get(pk=response.json()["ticketId"])
    assert ticket.pipeline.is_default
    assert ticket.status.name == "New"
    assert (ticket.priority, ticket.category) == ("", "")
    assert ticket.name == f"Ada Lovelace via {channel.name}"


def test_ticket_route_runs_once_per_new_ticket(setup):
    app_client, channel, account = setup
    rule = RoutingRule.objects.create(channel_account=account, priority="HIGH")
    with mock.patch(
        "tickets.publish.ticket_route", side_effect=lambda ticket, rule, message: ticket
    ) as route:
        _post(app_client.client, channel, message_body(account, integrationThreadId="a"))
        _post(app_client.client, channel, message_body(account, integrationThreadId="a"))
        _post(app_client.client, channel, message_body(account, integrationThreadId="b"))
    assert route.call_count == 2
    assert {call.kwargs["ticket"].pk for call in route.call_args_list} == set(
        Ticket.objects.values_list("pk", flat=True)
    )
    # Routed by the rule the ticket was opened by (read once, for its properties).
    assert [call.kwargs["rule"] for call in route.call_args_list] == [rule, rule]
    # And with the message that opened it, to quote in notifications.
    for call in route.call_args_list:
        assert call.kwargs["message"].ticket_id == call.kwargs["ticket"].pk
        assert call.kwargs["message"].direction == "INCOMING"


def test_a_follow_up_moves_the_ticket_up_but_an_older_message_does_not(setup):
    app_client, channel, account = setup
    body = message_body(account, integrationThreadId="a", timestamp="2026-11-25T10:00:00Z")
    first = _post(app_client.client, channel, body).json()
    _post(app_client.client, channel, {**body, "timestamp": "2026-11-25T11:00:00Z"})
    _post(app_client.client, channel, {**body, "timestamp": "2026-11-25T09:00:00Z"})
    ticket = Ticket.objects.get(pk=first["ticketId"])
    assert ticket.last_message_at == datetime(2026, 11, 25, 11, tzinfo=UTC)


def test_a_failure_after_the_first_writes_rolls_everything_back(setup):
    app_client, channel, account = setup
    before = _counts()
    with (
        mock.patch("tickets.publish.ticket_route", side_effect=RuntimeError("routing broke")),
        pytest.raises(RuntimeError),
    ):
        _post(app_client.client, channel, message_body(account, integrationIdempotencyId="x"))
    assert _counts() == before


# --- Side effects ---------------------------------------------------------------------------


def test_side_effects_wait_for_commit_and_a_replay_has_none(
    setup, django_capture_on_commit_callbacks
):
    app_client, channel, account = setup
    body = message_body(account, integrationIdempotencyId="m")
    with django_capture_on_commit_callbacks() as callbacks:
        _post(app_client.client, channel, body)
    # The new ticket's live event: stored in the transaction, pushed after it.
    assert [callback.func for callback in callbacks] == [live_events_push]
    with django_capture_on_commit_callbacks() as callbacks:
        _post(app_client.client, channel, body)
    assert callbacks == []


# --- Status updates -------------------------------------------------------------------------


@pytest.fixture
def outgoing(setup):
    app_client, channel, account = setup
    body = message_body(
        account,
        messageDirection="OUTGOING",
        senders=[sender(account.delivery_identifier_value)],
        recipients=[sender("+15550100099")],
    )
    created = _post(app_client.client, channel, body).json()
    return app_client, channel, created


def test_status_update_to_failed_shows_the_reason(outgoing):
    app_client, channel, created = outgoing
    response = app_client.client.patch(
        message_url(channel, created["id"]),
        {"statusType": "FAILED", "errorMessage": "Number unreachable"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == {
        "statusType": "FAILED",
        "failureDetails": {"errorMessage": "Number unreachable"},
    }
    assert Message.objects.get(pk=created["id"]).failure_reason == "Number unreachable"


def test_status_update_to_read_clears_a_failure(outgoing):
    app_client, channel, created = outgoing
    url = message_url(channel, created["id"])
    app_client.client.patch(url, {"statusType": "FAILED", "errorMessage": "x"}, format="json")
    response = app_client.client.patch(
        url, {"statusType": "READ", "errorMessage": None}, format="json"
    )
    assert response.json()["status"] == {"statusType": "READ"}
    assert Message.objects.get(pk=created["id"]).failure_reason == ""


def test_status_update_with_null_status_changes_nothing(outgoing):
    app_client, channel, created = outgoing
    response = app_client.client.patch(
        message_url(channel, created["id"]),
        {"statusType": None, "errorMessage": None},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == {"statusType": "SENT"}


@pytest.mark.parametrize(
    ("body", "path"),
    [({}, "statusType"), ({"statusType": "RECEIVED"}, "statusType"), ([1], "body")],
)
def test_status_update_validation(outgoing, body, path):
    app_client, channel, created = outgoing
    response = app_client.client.patch(message_url(channel, created["id"]), body, format="json")
    _assert_400_at(response, path)


def test_status_update_of_an_incoming_message_is_409(setup):
    """An INCOMING message has no delivery status to report: CONFLICT, nothing changes."""
    app_client, channel, account = setup
    created = _post(app_client.client, channel, message_body(account)).json()
    response = app_client.client.patch(
        message_url(channel, created["id"]), {"statusType": "READ"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["category"] == "CONFLICT"
    assert Message.objects.get(pk=created["id"]).status == "RECEIVED"


def test_status_update_of_another_apps_message_is_404(outgoing, other_app_client):
    _, channel, created = outgoing
    response = other_app_client.client.patch(
        message_url(channel, created["id"]), {"statusType": "READ"}, format="json"
    )
    assert response.status_code == 404


# --- Query counts ---------------------------------------------------------------------------


def test_query_count_of_a_publish_that_starts_a_thread(setup, django_assert_num_queries):
    """A new contact, thread and ticket. Auth 1, account 1; in the service's transaction:
    savepoint, replay check, savepoint, thread lookup, savepoint + identifier lookup +
    savepoint + contact + identifier + release + routing rule + starting status + ticket +
    thread + release, message, its live event (ticket.created), the routing decision (insert:
    the rule was read for the ticket), release x2. The response is rendered from what was written: no read-back of the
    attachments. On PostgreSQL, the thread's creation lock (taken at once) comes on top."""
    app_client, channel, account = setup
    _post(app_client.client, channel, message_body(account, senders=[sender("+15550100005")]))
    with django_assert_num_queries(22 + _CREATION_LOCK):
        response = _post(
            app_client.client,
            channel,
            message_body(account, integrationThreadId="new", integrationIdempotencyId="q1"),
        )
    assert response.status_code == 201


# The thread's creation lock: one advisory lock on PostgreSQL; none on SQLite.
_CREATION_LOCK = 1 if connection.vendor == "postgresql" else 0


def test_query_count_of_a_publish_that_starts_a_thread_without_idempotency(
    setup, django_assert_num_queries
):
    """The common first message (no idempotency id or key): auth, account; in the service's
    transaction: savepoint, thread lookup, [creation lock], savepoint + identifier lookup +
    savepoint + contact + identifier + release + routing rule + starting status + ticket +
    thread + release, message, its live event, the routing decision (insert), release."""
    app_client, channel, account = setup
    _post(app_client.client, channel, message_body(account, senders=[sender("+15550100005")]))
    with django_assert_num_queries(19 + _CREATION_LOCK):
        response = _post(app_client.client, channel, message_body(account, integrationThreadId="n"))
    assert response.status_code == 201
    assert Thread.objects.get(integration_thread_id="n").contact_identifier.value == (
        "+15550100000"
    )


def test_query_count_of_a_follow_up_publish(setup, django_assert_num_queries):
    """Known contact, open thread: auth, account, savepoint, replay check, savepoint, thread
    (locked, with its ticket and identifier), message, its live event (message.created),
    ticket update, release x2."""
    app_client, channel, account = setup
    body = message_body(account, integrationThreadId="conv")
    _post(app_client.client, channel, body)
    with django_assert_num_queries(11):
        response = _post(app_client.client, channel, {**body, "integrationIdempotencyId": "q2"})
    assert response.status_code == 201


@pytest.mark.parametrize("later", [True, False])
def test_query_count_of_a_follow_up_publish_without_idempotency(
    setup, django_assert_num_queries, later
):
    """The common follow-up (no idempotency id or key): auth, account; in the service's
    transaction (a savepoint here, inside the test's): the thread (locked, with its
    ticket and identifier), message, its live event, and the ticket's update when the message
    is its latest. No replay check, no savepoint of its own, no contact lookup: not even a join, as
    the thread's contact identifier names the contact's id."""
    app_client, channel, account = setup
    body = message_body(account, integrationThreadId="conv", timestamp="2026-11-25T10:00:00.000Z")
    _post(app_client.client, channel, body)
    timestamp = "2026-11-25T10:05:00.000Z" if later else "2026-11-25T09:55:00.000Z"
    with django_assert_num_queries(8 if later else 7) as captured:
        response = _post(app_client.client, channel, {**body, "timestamp": timestamp})
    assert response.status_code == 201
    assert not [query for query in captured.captured_queries if '"tickets_contact"' in query["sql"]]
    created = Message.objects.get(pk=response.json()["id"])
    assert created.sender_contact_id == Thread.objects.get(integration_thread_id="conv").contact_id
    assert Message.objects.filter(thread_id=response.json()["conversationsThreadId"]).count() == 2


def test_query_count_of_get_message(setup, django_assert_num_queries):
    app_client, channel, account = setup
    file_ids = [upload_id(app_client.client, png_bytes()) for _ in range(3)]
    attachments = [{"type": "FILE", "fileId": file_id} for file_id in file_ids]
    created = _post(app_client.client, channel, message_body(account, attachments=attachments))
    # token, channel, message, attachments with their files: independent of attachment count.
    with django_assert_num_queries(4):
        response = app_client.client.get(message_url(channel, created.json()["id"]))
    assert len(response.json()["attachments"]) == 3


@pytest.mark.parametrize("count", [1, 20])
def test_query_count_of_a_publish_with_files_does_not_grow_with_them(
    setup, django_assert_num_queries, count
):
    """Files are fetched in one query and attachments inserted in one, for any number."""
    app_client, channel, account = setup
    body = message_body(account, integrationThreadId="conv")
    _post(app_client.client, channel, body)
    file_ids = [upload_id(app_client.client, png_bytes()) for _ in range(count)]
    attachments = [{"type": "FILE", "fileId": file_id} for file_id in file_ids]
    # The follow-up's 11 without its replay check and savepoint (no idempotency id), plus the
    # files' lookup and the attachments' insert.
    with django_assert_num_queries(10):
        response = _post(app_client.client, channel, {**body, "attachments": attachments})
    assert len(response.json()["attachments"]) == count
