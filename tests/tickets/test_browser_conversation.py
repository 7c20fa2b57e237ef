"""The conversation page in a real browser (SPEC I3-I7): attachments shown inline, reassigning,
replying to one message (the app's real receiver gets ``inReplyToId``), email and call,
"send and set status" with a required property, the editor's limits, and Redeliver."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from channels_app.models import Delivery
from routing.models import AssignmentDecision, Notification
from tests.receiver import Answer, running_receiver
from tests.tickets.conversation_scenes import (
    app_file,
    conditional_status,
    conversation,
    inbound,
    rep,
)
from tests.tickets.factories import png_bytes, wav_bytes
from tickets.models import Message, MessageDirection, MessageStatus, Ticket
from tickets.services import message_statuses_move

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_webhooks(settings: Any) -> None:
    settings.WEBHOOK_RETRY_DELAY_SCALE = 0
    settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS = 3
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 1


def _events(receiver: Any) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.requests]


def _open(page: Any, sign_in: Any, user: Any, ticket: Ticket) -> None:
    sign_in(user)
    page.goto(f"/inbox/tickets/{ticket.pk}/")
    expect(page.get_by_test_id("thread")).to_be_visible()


def test_image_and_audio_attachments_are_shown_inline(
    page: Any, sign_in: Any, screenshot: Any
) -> None:
    scene = conversation()
    image = app_file(scene.app, png_bytes(64, 48), "receipt.png")
    voice = app_file(scene.app, wav_bytes(4000), "voice.wav")
    inbound(
        scene,
        text="Here is the receipt and a voice note",
        attachments=[
            {"type": "FILE", "fileId": image.pk},
            {"type": "FILE", "fileId": voice.pk, "fileUsageType": "VOICE_RECORDING"},
            {
                "type": "LOCATION",
                "data": {"latitude": 51.5, "longitude": -0.12, "name": "Our shop"},
            },
            {"type": "QUICK_REPLIES", "data": {"quickReplies": [{"label": "Yes", "value": "yes"}]}},
        ],
    )
    _open(page, sign_in, rep("grace"), scene.ticket)

    picture = page.locator("[data-kind='image'] img")
    expect(picture).to_be_visible()
    page.wait_for_function("document.querySelector(\"[data-kind='image'] img\").complete")
    assert picture.evaluate("img => img.naturalWidth") == 64
    audio = page.locator("[data-kind='audio'] audio")
    assert audio.get_attribute("src").startswith("/files/download/")
    # The voice note's metadata loads from its URL (readyState HAVE_METADATA), without error.
    page.wait_for_function("document.querySelector(\"[data-kind='audio'] audio\").readyState >= 1")
    assert audio.evaluate("a => a.error") is None
    expect(page.locator("[data-kind='audio']")).to_contain_text("Voice note")
    expect(page.locator("[data-kind='location']")).to_contain_text("Our shop")
    expect(page.locator("[data-kind='quick_replies']")).to_contain_text("Yes")

    screenshot(page, "conversation-attachments")

    # Clicking the image enlarges it in a dialog.
    page.locator("a[data-enlarge]").click()
    viewer = page.locator("[data-image-viewer]")
    expect(viewer).to_be_visible()
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()


def test_a_rep_reassigns_the_ticket_with_the_owner_menu(page: Any, sign_in: Any) -> None:
    scene = conversation()
    grace, linus = rep("grace", first_name="Grace"), rep("linus", first_name="Linus")
    _open(page, sign_in, grace, scene.ticket)

    sidebar = page.get_by_test_id("sidebar-ticket")
    sidebar.get_by_label("Ticket owner").select_option(label="Linus")
    sidebar.get_by_role("button", name="Assign").click()

    expect(page.get_by_test_id("sidebar-owner")).to_have_text("Owned by Linus")
    scene.ticket.refresh_from_db()
    assert scene.ticket.owner_id == linus.pk
    decision = AssignmentDecision.objects.get(ticket=scene.ticket, trigger="MANUAL")
    assert decision.summary == "Assigned to Linus by Grace."
    assert Notification.objects.filter(user=linus, ticket=scene.ticket).exists()


def test_replying_to_one_message_sends_its_id_to_the_app(page: Any, sign_in: Any) -> None:
    with running_receiver() as receiver:
        scene = conversation(webhook_url=receiver.url, text="My order 1234 is late")
        newer = inbound(scene, text="Also, can I change the address?")
        _open(page, sign_in, rep("grace"), scene.ticket)

        first_item = page.locator(f"[data-message-id='{scene.first.pk}']")
        first_item.get_by_role("button", name=re.compile("Reply to this message")).click()
        expect(page.locator("[data-quote]")).to_contain_text("My order 1234 is late")
        page.get_by_role("textbox", name="Message", exact=True).fill("It left the warehouse today.")
        page.get_by_test_id("send").click()

        reply = page.locator("[data-direction='OUTGOING']")
        expect(reply).to_contain_text("It left the warehouse today.")
        expect(reply.get_by_test_id("delivery-status")).to_have_attribute("data-status", "SENT")
        receiver.wait_for(1)
    [event] = [e for e in _events(receiver) if e["type"] == "OUTGOING_CHANNEL_MESSAGE_CREATED"]
    assert event["message"]["inReplyToId"] == str(scene.first.pk)
    assert event["message"]["inReplyToId"] != str(newer.pk)
    assert event["message"]["text"] == "It left the warehouse today."


def test_a_rep_emails_the_contact_and_logs_a_call(page: Any, sign_in: Any) -> None:
    scene = conversation(contact_email="ada@example.com")
    _open(page, sign_in, rep("grace"), scene.ticket)

    page.get_by_test_id("medium-email").check()
    page.get_by_role("textbox", name="Message", exact=True).fill("Your refund is on its way.")
    page.get_by_test_id("send").click()
    email_item = page.locator("[data-medium='EMAIL']")
    expect(email_item.get_by_test_id("delivery-status")).to_have_attribute("data-status", "SENT")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert mail.outbox[0].body == "Your refund is on its way."

    page.get_by_test_id("medium-call").check()
    expect(page.get_by_test_id("send")).to_have_text("Log call")
    page.get_by_label("Duration (minutes)").fill("12")
    page.get_by_label("Outcome").select_option("CONNECTED")
    page.get_by_role("textbox", name="Call note").fill("Explained the refund timeline.")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("call-summary")).to_have_text("Call · Connected · 12 min")
    call = Message.objects.get(medium="CALL")
    assert call.details == {"durationSeconds": 720, "outcome": "CONNECTED"}
    assert call.text == "Explained the refund timeline."


def test_a_channel_without_email_is_shown_disabled_with_the_reason(page: Any, sign_in: Any) -> None:
    scene = conversation()
    _open(page, sign_in, rep("grace"), scene.ticket)
    expect(page.get_by_test_id("medium-email")).to_be_disabled()
    expect(page.get_by_test_id("channel-switch")).to_contain_text(
        "The contact has no email address."
    )


def test_send_and_set_status_asks_for_the_required_property_first(
    page: Any, sign_in: Any, screenshot: Any
) -> None:
    escalated = conditional_status("Escalated", required=("priority",))
    with running_receiver() as receiver:
        scene = conversation(webhook_url=receiver.url)
        _open(page, sign_in, rep("grace"), scene.ticket)

        page.get_by_role("textbox", name="Message", exact=True).fill(
            "Passing this to our specialists."
        )
        page.get_by_test_id("send-and-set-status").click()
        page.get_by_role("button", name="Send and set to Escalated").click()

        dialog = page.get_by_test_id("status-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Before setting Escalated")
        screenshot(page, "send-and-set-status-dialog")
        # Nothing was sent while the property is missing, even when the rep insists.
        dialog.get_by_role("button", name="Send and set status").click()
        expect(dialog).to_contain_text("This status requires it.")
        assert not Message.objects.filter(direction="OUTGOING").exists()
        assert receiver.requests == []

        dialog.get_by_label("Priority").select_option("HIGH")
        dialog.get_by_role("button", name="Send and set status").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_test_id("conversation-status")).to_have_text("Escalated")
        expect(page.get_by_test_id("delivery-status")).to_have_attribute("data-status", "SENT")
        receiver.wait_for(1)
    scene.ticket.refresh_from_db()
    assert scene.ticket.status_id == escalated.pk
    assert scene.ticket.priority == "HIGH"
    [event] = _events(receiver)
    assert event["message"]["text"] == "Passing this to our specialists."


def test_the_editor_offers_only_the_formatting_the_channel_allows(page: Any, sign_in: Any) -> None:
    scene = conversation(richText=["BOLD"])
    _open(page, sign_in, rep("grace"), scene.ticket)
    toolbar = page.get_by_role("toolbar", name="Formatting")
    expect(toolbar.get_by_role("button")).to_have_count(1)
    expect(toolbar.get_by_role("button", name="Bold")).to_be_visible()

    editor = page.get_by_test_id("rich-editor")
    editor.click()
    toolbar.get_by_role("button", name="Bold").click()
    page.keyboard.type("Important")
    page.get_by_test_id("send").click()
    expect(page.locator("[data-direction='OUTGOING'] .message-body b")).to_have_text("Important")
    message = Message.objects.get(direction="OUTGOING")
    assert message.text == "Important"
    assert message.rich_text == "<b>Important</b>"

    # A logged call is plain text: the toolbar goes away.
    page.get_by_test_id("medium-call").check()
    expect(toolbar).to_be_hidden()


def test_an_over_size_attachment_is_refused_by_the_editor_and_by_the_server(
    page: Any, sign_in: Any
) -> None:
    scene = conversation(maxFileAttachmentSizeBytes=2_000)
    _open(page, sign_in, rep("grace"), scene.ticket)
    expect(page.locator("[data-limits-text]")).to_contain_text("2 KB each")

    big = png_bytes(4, 4) + bytes(5_000)  # Still a PNG by its bytes; 5 KB.
    page.locator("[data-file-input]").set_input_files(
        {"name": "big.png", "mimeType": "image/png", "buffer": big}
    )
    expect(page.get_by_test_id("composer-error")).to_contain_text(
        "big.png is larger than the limit"
    )
    expect(page.get_by_test_id("upload")).to_have_count(0)

    # A small one uploads, with its progress bar completed.
    page.locator("[data-file-input]").set_input_files(
        {"name": "small.png", "mimeType": "image/png", "buffer": png_bytes(2, 2)}
    )
    expect(page.locator("[data-testid='upload'].is-done progress")).to_have_attribute(
        "value", "100"
    )

    # The server refuses the same file when the editor is bypassed.
    status = page.evaluate(
        """async ([url, bytes]) => {
            const data = new FormData();
            data.append("file", new File([new Uint8Array(bytes)], "big.png", {type: "image/png"}));
            const token = document.querySelector("[name=csrfmiddlewaretoken]").value;
            const response = await fetch(url + "?medium=CUSTOM_CHANNEL", {
                method: "POST", body: data, headers: {"X-CSRFToken": token, Accept: "application/json"}});
            return [response.status, (await response.json()).message];
        }""",
        [f"/inbox/tickets/{scene.ticket.pk}/uploads/", list(big)],
    )
    assert status[0] == 400
    assert "larger than the limit of 2000 bytes" in status[1]


def test_a_failed_delivery_shows_its_reason_and_redeliver_sends_it(page: Any, sign_in: Any) -> None:
    with running_receiver([Answer(400, body=b"unknown thread")], default=Answer(200)) as receiver:
        scene = conversation(webhook_url=receiver.url)
        _open(page, sign_in, rep("grace"), scene.ticket)

        page.get_by_role("textbox", name="Message", exact=True).fill("Are you still there?")
        page.get_by_test_id("send").click()
        status = page.get_by_test_id("delivery-status")
        expect(status).to_have_attribute("data-status", "FAILED")
        expect(page.get_by_test_id("failure-reason")).to_contain_text("400")

        page.get_by_role("button", name="Redeliver").click()
        expect(status).to_have_attribute("data-status", "SENT")
        receiver.wait_for(2)
    message = Message.objects.get(direction="OUTGOING")
    assert message.status == MessageStatus.SENT
    delivery = Delivery.objects.get(message=message)
    assert {request.headers["webhook-id"] for request in receiver.requests} == {
        str(delivery.event_id)
    }


@pytest.fixture
def live_page(browser: Any, asgi_live_server: Any) -> Any:
    """A page on the ASGI server, where the inbox's websocket delivers live events."""
    context = browser.new_context(
        base_url=asgi_live_server.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_new_messages_and_assignments_appear_without_a_reload(
    live_page: Any, asgi_live_server: Any
) -> None:
    from django.conf import settings
    from django.test import Client

    with asgi_live_server.exclusive():
        scene = conversation()
        grace = rep("grace", first_name="Grace")
        linus = rep("linus", first_name="Linus")
        # A reply still sending (its delivery is the worker's business, not this test's).
        sending = Message.objects.create(
            thread_id=scene.first.thread_id,
            ticket=scene.ticket,
            channel=scene.channel,
            channel_account=scene.account,
            direction=MessageDirection.OUTGOING,
            text="Your parcel is on its way",
            status=MessageStatus.PENDING,
            client_type=Message.ClientType.HUBSPOT,
            sender_user_id=grace.pk,
            timestamp=timezone.now(),
        )
        client = Client()
        client.force_login(grace)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page = live_page
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": asgi_live_server.url}]
    )
    page.goto(f"/inbox/tickets/{scene.ticket.pk}/")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "open")
    sending_status = page.locator(f"[data-message-id='{sending.pk}']").get_by_test_id(
        "delivery-status"
    )
    expect(sending_status).to_have_attribute("data-status", "PENDING")

    # The app confirms the reply: its status event refreshes it (with the live connection up,
    # the page does not poll, so nothing else could).
    with asgi_live_server.exclusive(), transaction.atomic():
        message_statuses_move(
            [sending.pk],
            from_statuses=[MessageStatus.PENDING],
            status=MessageStatus.SENT,
            now=timezone.now(),
        )
    expect(sending_status).to_have_attribute("data-status", "SENT")

    with asgi_live_server.exclusive():
        newer = inbound(scene, text="Hello? Anyone there?")
        from routing.ownership import ticket_owner_set

        ticket_owner_set(ticket=scene.ticket, owner=linus, by=grace)
    item = page.locator(f"[data-message-id='{newer.pk}']")
    expect(item).to_contain_text("Hello? Anyone there?")
    expect(page.locator("[data-message-id]")).to_have_count(3)
    expect(page.get_by_test_id("sidebar-owner")).to_have_text("Owned by Linus")
