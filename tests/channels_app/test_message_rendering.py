"""``message_body`` renders the message object by hand: it must equal what the documented
``MessageOutputSerializer`` gives, key for key and in the same order, for every kind of message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db.models import prefetch_related_objects

from channels_app.api.message_serializers import (
    MessageOutputSerializer,
    message_body,
    messages_to_api,
)
from tests.tickets.factories import (
    channel_with_account,
    messages_url,
    png_bytes,
    sender,
    upload_id,
)
from tests.tickets.factories import (
    message_body as request_body,
)
from tickets.models import Message
from tickets.selectors import attachments_prefetch

pytestmark = pytest.mark.django_db


def _serializer_body(message: Message) -> dict[str, Any]:
    return json.loads(json.dumps(MessageOutputSerializer(message).data))


def _assert_same(message: Message) -> None:
    prefetch_related_objects([message], attachments_prefetch())
    expected = _serializer_body(message)
    rendered = message_body(message)
    assert rendered == expected
    assert list(rendered) == list(expected)
    assert json.dumps(rendered) == json.dumps(expected)


def test_published_messages_render_as_the_serializer_does(app_client):
    channel, account = channel_with_account(app_client.app)
    file_id = upload_id(app_client.client, png_bytes())
    bodies = [
        request_body(account, integrationThreadId="c"),
        request_body(
            account,
            integrationThreadId="c",
            richText="<p>Hi</p>",
            attachments=[
                {"type": "FILE", "fileId": file_id},
                {"type": "LOCATION", "latitude": 1.5, "longitude": 2},
            ],
            senders=[sender("+15550100000", name="Ada"), sender("+15550100001")],
        ),
        request_body(
            account,
            messageDirection="OUTGOING",
            senders=[sender("+15550109999", name="Bot")],
            recipients=[sender("+15550100000")],
        ),
    ]
    ids = []
    for body in bodies:
        response = app_client.client.post(messages_url(channel), body, format="json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    messages = list(Message.objects.filter(pk__in=ids).order_by("pk"))
    first = Message.objects.get(pk=ids[0])
    messages[1].in_reply_to = first
    messages[1].save()
    for message in messages:
        _assert_same(message)
    assert messages_to_api(messages) == [_serializer_body(message) for message in messages]


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "FAILED", "failure_reason": "No route"},
        {"status": "PENDING", "direction": "OUTGOING", "sender_user_id": None},
        {"status": "READ", "client_type": "HUBSPOT", "app_id": None},
        {"channel_id": None, "channel_account_id": None, "in_reply_to_id": None},
        {"senders": [{"name": None, "deliveryIdentifier": None}, {"actorId": "A-1"}]},
        {"recipients": [{"deliveryIdentifier": {"type": "HS_EMAIL_ADDRESS", "value": "a@b.c"}}]},
        {
            "senders": [
                {
                    "actorId": "V-1",
                    "extra": "dropped",
                    "deliveryIdentifier": {
                        "type": "CHANNEL_SPECIFIC_OPAQUE_ID",
                        "value": "U1",
                        "extra": 1,
                    },
                }
            ]
        },
    ],
)
def test_unusual_stored_values_render_as_the_serializer_does(changes):
    at = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)
    message = Message(
        pk=7,
        thread_id=3,
        ticket_id=4,
        channel_id=5,
        channel_account_id=6,
        direction="INCOMING",
        text="hello",
        rich_text="",
        senders=[{"actorId": "V-2", "name": "C", "deliveryIdentifier": {
            "type": "HS_PHONE_NUMBER", "value": "+15550100000"}}],
        recipients=[],
        status="RECEIVED",
        client_type="INTEGRATION",
        app_id=9,
        sender_contact_id=2,
        timestamp=at,
        created_at=at,
        updated_at=at,
    )  # fmt: skip
    for name, value in changes.items():
        setattr(message, name, value)
    prefetched = message.attachments.all()
    prefetched._result_cache = []
    prefetched._prefetch_done = True
    message._prefetched_objects_cache = {"attachments": prefetched}
    expected = _serializer_body(message)
    assert message_body(message) == expected
    assert list(message_body(message)) == list(expected)
