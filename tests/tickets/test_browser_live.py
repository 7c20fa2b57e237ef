"""A rep's open page, served with websockets: events arrive live, the bell rings, and a page
whose connection dropped catches up on what it missed, each event once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from routing.models import Notification
from tests.conftest import make_app_client
from tests.routing.helpers import Mode, rep
from tests.tickets.factories import (
    FILES_URL,
    channel_with_account,
    message_body,
    messages_url,
    png_bytes,
    sender,
    wav_bytes,
)
from tickets.models import LiveEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # WhiteNoise hands Django's ASGI handler static files as synchronous iterators.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

# Every page of this test records the events live.js dispatches, in order.
RECORD_EVENTS = """
window.liveEvents = [];
document.addEventListener("helpdesk:live", (event) => window.liveEvents.push(event.detail));
"""


@pytest.fixture
def live_page(browser: Any, asgi_live_server: Any) -> Iterator[Any]:
    """A fresh browser context on the ASGI server (websockets), recording live events."""
    context = browser.new_context(
        base_url=asgi_live_server.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    context.add_init_script(RECORD_EVENTS)
    yield context.new_page()
    context.close()


def _sign_in(page: Any, user: Any, url: str) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])


def _seqs(page: Any) -> list[int]:
    return page.evaluate("window.liveEvents.map((event) => event.seq)")


def test_events_arrive_live_the_bell_rings_and_a_reconnect_catches_up_once(
    live_page: Any, asgi_live_server: Any, screenshot: Any
) -> None:
    from routing.models import RoutingRule

    alice = rep("alice")
    app_client = make_app_client()
    channel, account = channel_with_account(app_client.app)
    rule = RoutingRule.objects.create(
        channel_account=account, mode=Mode.SPECIFIC_USERS_AND_TEAMS, auto_assign=True
    )
    rule.users.set([alice])
    page = live_page
    _sign_in(page, alice, asgi_live_server.url)

    page.goto("/inbox/notifications/")
    status = page.get_by_test_id("live-status")
    bell_count = page.get_by_test_id("bell-count")
    expect(status).to_have_attribute("data-state", "open")
    expect(bell_count).to_be_hidden()

    # A customer writes: the app posts the message over HTTP; the page hears of it at once.
    response = page.request.post(
        asgi_live_server.url + messages_url(channel),
        data=message_body(account, integrationThreadId="first"),
        headers={"Authorization": f"Bearer {app_client.token}"},
    )
    assert response.status == 201, response.text()
    posted_at = time.monotonic()
    page.wait_for_function(
        "window.liveEvents.some((event) => event.kind === 'ticket.created')", timeout=2_000
    )
    assert time.monotonic() - posted_at < 2
    # The routing rule gave the ticket to Alice: her bell rings.
    expect(bell_count).to_have_text("1")
    page.get_by_test_id("bell").click()
    panel = page.get_by_test_id("bell-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("link", name="was assigned to you")).to_be_visible()
    screenshot(page, "live-bell-open")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    page.wait_for_function("window.liveEvents.length >= 3")  # created, assigned, notified
    before_drop = _seqs(page)

    # The connection drops; two more conversations start while the page is away.
    asgi_live_server.stop()
    expect(status).to_have_text("Reconnecting…")
    for number in range(2):
        missed = app_client.client.post(
            messages_url(channel),
            message_body(
                account,
                integrationThreadId=f"missed-{number}",
                senders=[sender(f"+1555030{number:04d}")],
            ),
            format="json",
        )
        assert missed.status_code == 201
    visible = [
        pk
        for pk, user_id in LiveEvent.objects.order_by("id").values_list("pk", "user_id")
        if user_id in (None, alice.pk)
    ]
    assert len(visible) == 9

    # Back: the page reconnects and catches up on exactly what it missed.
    asgi_live_server.start()
    expect(status).to_have_attribute("data-state", "open", timeout=15_000)
    page.wait_for_function(f"window.liveEvents.length >= {len(visible)}", timeout=10_000)
    page.wait_for_timeout(500)  # anything more (a duplicate) would arrive meanwhile
    seqs = _seqs(page)
    assert seqs[: len(before_drop)] == before_drop
    assert seqs == visible, "every event once, in order"
    expect(bell_count).to_have_text("3")
    expect(status).to_have_text("")

    # Opening a notification reads it.
    page.get_by_test_id("bell").click()
    page.get_by_test_id("bell-panel").get_by_role("link").first.click()
    page.wait_for_url("**/inbox/tickets/*/")
    with asgi_live_server.exclusive():
        assert Notification.objects.filter(user=alice, read_at__isnull=True).count() == 2

    # "Mark all read" (a POST with the page's CSRF token) reads the other two.
    expect(bell_count).to_have_text("2")
    page.get_by_test_id("bell").click()
    page.get_by_role("button", name="Mark all read").click()
    expect(bell_count).to_be_hidden()
    with asgi_live_server.exclusive():
        assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()


def _app_post(page: Any, app_client: Any, url: str, **request: Any) -> dict[str, Any]:
    """What an external app sends, over HTTP to the running server."""
    response = page.request.post(
        url, headers={"Authorization": f"Bearer {app_client.token}"}, **request
    )
    assert response.status == 201, response.text()
    return response.json()


def test_an_inbound_message_with_image_and_audio_appears_live_in_the_list_and_the_conversation(
    live_page: Any, asgi_live_server: Any
) -> None:
    alice = rep("alice")
    app_client = make_app_client()
    channel, account = channel_with_account(app_client.app)
    page = live_page
    _sign_in(page, alice, asgi_live_server.url)
    base = asgi_live_server.url

    def upload(name: str, data: bytes, mime: str) -> str:
        answer = _app_post(
            page,
            app_client,
            base + FILES_URL,
            multipart={"file": {"name": name, "mimeType": mime, "buffer": data}},
        )
        return str(answer["id"])

    def attachments() -> list[dict[str, Any]]:
        return [
            {"type": "FILE", "fileId": upload("receipt.png", png_bytes(40, 30), "image/png")},
            {
                "type": "FILE",
                "fileId": upload("voice.wav", wav_bytes(4000), "audio/wav"),
                "fileUsageType": "VOICE_RECORDING",
            },
        ]

    page.goto("/inbox/?view=open")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("ticket-row")).to_have_count(0)
    expect(page.locator("[data-view-count='open']")).to_have_text("0")

    def customer_writes(text: str) -> None:
        """Hedy's message with an image and a voice note, in one conversation."""
        body = message_body(
            account,
            text=text,
            integrationThreadId="live-files",
            senders=[sender("+15550400000", name="Hedy Lamarr")],
            attachments=attachments(),
        )
        _app_post(page, app_client, base + messages_url(channel), data=body)

    # A new conversation: its row appears in the open list within 2 seconds, no reload.
    customer_writes("Receipt and voice note attached")
    row = page.get_by_test_id("ticket-row")
    expect(row).to_have_count(1, timeout=2_000)
    expect(row).to_contain_text("Hedy Lamarr")
    expect(row.get_by_test_id("ticket-snippet")).to_contain_text("Receipt and voice note")
    expect(page.locator("[data-view-count='open']")).to_have_text("1")
    expect(page.locator("[data-view-count='unassigned']")).to_have_text("1")

    # The conversation shows both attachments inline.
    row.get_by_role("link").click()
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "open")
    picture = page.locator("[data-kind='image'] img")
    page.wait_for_function("document.querySelector(\"[data-kind='image'] img\")?.complete")
    assert picture.evaluate("img => img.naturalWidth") == 40
    expect(page.locator("[data-kind='audio'] audio")).to_have_count(1)

    # A follow-up with the same files arrives in the open conversation within 2 seconds.
    customer_writes("And again, in case")
    expect(page.locator("[data-message-id]")).to_have_count(2, timeout=2_000)
    latest = page.locator("[data-message-id]").last
    expect(latest).to_contain_text("And again, in case")
    expect(latest.locator("[data-kind='image'] img")).to_be_visible()
    expect(latest.locator("[data-kind='audio'] audio")).to_have_count(1)
    page.wait_for_function(
        "[...document.querySelectorAll(\"[data-kind='image'] img\")].every(i => i.complete)"
    )
    assert latest.locator("[data-kind='image'] img").evaluate("img => img.naturalWidth") == 40
