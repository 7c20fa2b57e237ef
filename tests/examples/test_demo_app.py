"""The demo app (examples/demo_app) against a real help desk: the whole loop over HTTP.

The help desk runs in pytest-django's live server (a thread, the test database); the demo app
runs its own server on a free port and talks to it only through the public API and webhooks.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from django.db import transaction

from channels_app.models import ChannelAccount, CustomChannel
from channels_app.services import app_create
from channels_app.signing import signed_headers
from examples.demo_app.server import CHANNEL_NAME, Config, DemoApp
from tests.factories import UserFactory, default_inbox, default_pipeline
from tickets.models import Message, MessageDirection, MessageStatus
from tickets.replies import reply_send

pytestmark = pytest.mark.django_db(transaction=True)

# A 1x1 PNG: the help desk sniffs the type from the bytes.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=30), retries=False)


def wait_until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def call(app: DemoApp, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = http.request(
        method,
        app.url + path,
        body=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    return response.status, json.loads(response.data)


@pytest.fixture
def credentials(live_server: Any) -> dict[str, str]:
    # A transactional test may start from an empty database (a previous one flushed it).
    default_inbox()
    default_pipeline()
    created = app_create(name="Demo app")
    return {
        "helpdesk_url": live_server.url,
        "token": created.access_token,
        "client_secret": created.app.client_secret,
    }


@pytest.fixture
def demo(credentials: dict[str, str], tmp_path: Path) -> Iterator[DemoApp]:
    app = DemoApp(Config(**credentials, port=0, state_path=tmp_path / "state.json"))
    app.start()
    yield app
    app.stop()


def test_registers_its_channel_and_account_on_first_start(demo: DemoApp) -> None:
    channel = CustomChannel.objects.get(pk=demo.registration.channel_id)
    assert channel.name == CHANNEL_NAME
    assert channel.webhook_url == demo.webhook_url
    assert channel.capabilities["threadingModel"] == "DELIVERY_IDENTIFIER"
    assert [field["name"] for field in channel.connection_fields] == ["apiKey"]
    account = ChannelAccount.objects.get(pk=demo.registration.account_id)
    assert account.channel_id == channel.pk
    assert account.authorized
    assert demo.registration.signing_secret.startswith("whsec_")
    # The account event came through the real webhook, both signatures verified.
    events = wait_until(demo.conversations.recent_events)
    assert [event["type"] for event in events] == ["CHANNEL_ACCOUNT_CREATED"]
    assert json.loads(demo.config.state_path.read_text())["channel_id"] == str(channel.pk)


def test_a_restart_reuses_the_saved_channel(
    demo: DemoApp, credentials: dict[str, str], tmp_path: Path
) -> None:
    demo.stop()
    again = DemoApp(Config(**credentials, port=0, state_path=tmp_path / "state.json"))
    again.start()
    try:
        assert again.registration.channel_id == demo.registration.channel_id
        assert again.registration.account_id == demo.registration.account_id
        assert CustomChannel.objects.count() == 1
        # The new port is the channel's webhook URL now.
        assert CustomChannel.objects.get().webhook_url == again.webhook_url
    finally:
        again.stop()
    demo.server = again.server  # the fixture stops this one (stopping twice is harmless)


def test_customer_message_reply_through_webhook_and_read(demo: DemoApp) -> None:
    status, sent = call(
        demo,
        "POST",
        "/api/messages",
        {
            "customerId": "ada",
            "name": "Ada Lovelace",
            "text": "My order has not arrived.",
            "attachment": {
                "name": "receipt.png",
                "type": "image/png",
                "data": base64.b64encode(PNG).decode(),
            },
        },
    )
    assert status == 201, sent
    incoming = Message.objects.select_related("ticket", "thread__contact").get(
        pk=sent["message"]["id"]
    )
    assert incoming.direction == MessageDirection.INCOMING
    assert incoming.text == "My order has not arrived."
    assert incoming.attachments.count() == 1
    assert incoming.thread.contact.name == "Ada Lovelace"
    ticket = incoming.ticket

    # A second customer gets a conversation (and ticket) of their own.
    status, other = call(
        demo, "POST", "/api/messages", {"customerId": "bob", "name": "Bob", "text": "Hi"}
    )
    assert status == 201, other
    assert Message.objects.get(pk=other["message"]["id"]).ticket_id != ticket.pk

    with transaction.atomic():
        reply = reply_send(ticket=ticket, author=UserFactory(), text="It ships tomorrow.")

    def replies() -> list[dict[str, Any]]:
        _, state = call(demo, "GET", "/api/state?customer=ada")
        return [m for m in state["messages"] if m["direction"] == "OUTGOING"]

    shown = wait_until(replies)
    assert [(m["id"], m["text"], m["shown"]) for m in shown] == [
        (str(reply.pk), "It ships tomorrow.", False)
    ]
    _, state = call(demo, "GET", "/api/state?customer=ada")
    assert {c["id"]: c["unread"] for c in state["customers"]} == {"ada": 1, "bob": 0}
    assert wait_until(lambda: Message.objects.get(pk=reply.pk).status == MessageStatus.SENT)

    status, read = call(demo, "POST", "/api/shown", {"messageIds": [str(reply.pk)]})
    assert (status, read) == (200, {"read": [str(reply.pk)]})
    assert Message.objects.get(pk=reply.pk).status == MessageStatus.READ
    # Shown once: showing it again PATCHes nothing.
    assert call(demo, "POST", "/api/shown", {"messageIds": [str(reply.pk)]}) == (200, {"read": []})


def _signed(demo: DemoApp, event: dict[str, Any], *, client_secret: str) -> tuple[bytes, dict]:
    body = json.dumps(event).encode()
    headers = signed_headers(
        client_secret=client_secret,
        signing_secrets=[demo.registration.signing_secret],
        event_id=event["eventId"],
        method="POST",
        uri=demo.webhook_url,
        body=body,
        now_ms=int(time.time() * 1000),
    )
    return body, headers


def _reply_event(demo: DemoApp, text: str) -> dict[str, Any]:
    return {
        "type": "OUTGOING_CHANNEL_MESSAGE_CREATED",
        "eventId": str(uuid.uuid4()),
        "channelId": demo.registration.channel_id,
        "message": {
            "id": "999",
            "direction": "OUTGOING",
            "text": text,
            "senders": [{"name": "Rep"}],
            "recipients": [
                {"deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "eve"}}
            ],
        },
    }


def test_a_bad_signature_is_refused_and_not_stored(demo: DemoApp) -> None:
    event = _reply_event(demo, "forged")
    body, headers = _signed(demo, event, client_secret="not-the-client-secret")
    response = http.request("POST", demo.webhook_url, body=body, headers=headers)
    assert response.status == 401
    tampered_body, good_headers = _signed(demo, event, client_secret=demo.config.client_secret)
    response = http.request(
        "POST",
        demo.webhook_url,
        body=tampered_body.replace(b"forged", b"FORGED"),
        headers=good_headers,
    )
    assert response.status == 401
    response = http.request("POST", demo.webhook_url, body=b"{}", headers={})
    assert response.status == 401
    assert demo.conversations.messages("eve") == []


def test_a_redelivered_event_is_stored_once(demo: DemoApp) -> None:
    body, headers = _signed(
        demo, _reply_event(demo, "hello"), client_secret=demo.config.client_secret
    )
    for _ in range(2):
        assert http.request("POST", demo.webhook_url, body=body, headers=headers).status == 200
    assert [m.text for m in demo.conversations.messages("eve")] == ["hello"]


def test_the_page_says_it_uses_a_static_token(demo: DemoApp) -> None:
    status, state = call(demo, "GET", "/api/state")
    assert status == 200
    assert state["auth"] == {"mode": "static", "installed": True}
    assert demo.oauth is None
    assert json.loads(demo.config.state_path.read_text())["oauth"] is None  # no OAuth tokens
