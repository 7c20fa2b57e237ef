"""The conversation and ticket pages through Django's client (SPEC I3-I7): what the thread
shows, the fragments live updates fetch, what the editor posts, the owner menu, Redeliver,
the ticket page's edits, history and routing explanation, and their query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from channels_app.accounts import channel_account_deactivate
from channels_app.models import Delivery
from routing.models import AssignmentDecision, Notification
from tests.factories import AppFactory, default_pipeline
from tests.receiver import running_receiver
from tests.tickets.conversation_scenes import (
    Scene,
    app_file,
    conditional_status,
    conversation,
    inbound,
    rep,
)
from tests.tickets.factories import channel_with_account, mp4_bytes, png_bytes, wav_bytes
from tickets.models import File, Message, MessageStatus, Ticket, TicketChange
from tickets.publish import message_publish_inbound
from tickets.replies import reply_send
from tickets.services import ticket_update

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(ticket: Ticket, suffix: str = "") -> str:
    return f"/inbox/tickets/{ticket.pk}/{suffix}"


def _json_post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data, HTTP_ACCEPT="application/json")


@pytest.fixture
def scene() -> Scene:
    return conversation()


@pytest.fixture
def grace() -> Any:
    return rep("grace", first_name="Grace", last_name="Hopper")


# --- The thread -----------------------------------------------------------------------------


def test_the_thread_shows_every_attachment_kind_in_readable_form(scene: Scene, grace: Any) -> None:
    app = scene.app
    files = {
        "image": app_file(app, png_bytes(8, 8), "receipt.png"),
        "sticker": app_file(app, png_bytes(2, 2), "smile.png"),
        "voice": app_file(app, wav_bytes(), "note.wav"),
        "video": app_file(app, mp4_bytes(), "clip.mp4"),
        "pdf": app_file(
            app, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "invoice.pdf"
        ),
    }
    inbound(
        scene,
        text="Everything at once",
        attachments=[
            {"type": "FILE", "fileId": files["image"].pk},
            {"type": "FILE", "fileId": files["sticker"].pk, "fileUsageType": "STICKER"},
            {"type": "FILE", "fileId": files["voice"].pk, "fileUsageType": "VOICE_RECORDING"},
            {"type": "FILE", "fileId": files["video"].pk},
            {"type": "FILE", "fileId": files["pdf"].pk},
            {"type": "LOCATION", "data": {"latitude": 48.85, "longitude": 2.35, "name": "Shop"}},
            {
                "type": "CONTACT",
                "data": {
                    "contactProfile": {"firstName": "Bo", "lastName": "Diddley", "phone": "+1"}
                },
            },
            {"type": "QUICK_REPLIES", "data": {"quickReplies": [{"label": "Yes", "value": "y"}]}},
            {"type": "UNSUPPORTED_CONTENT", "data": {}},
        ],
    )
    page = _client(grace).get(_url(scene.ticket))
    assert page.status_code == 200
    html = page.content.decode()

    kinds = [
        "image", "sticker", "audio", "video", "file", "location", "contact", "quick_replies",
        "unsupported",
    ]  # fmt: skip
    for kind in kinds:
        assert f'data-kind="{kind}"' in html, kind
    assert 'alt="receipt.png"' in html
    assert "data-enlarge" in html
    assert 'alt="Sticker: smile.png"' in html
    assert "Voice note · note.wav" in html
    assert "<audio controls" in html
    assert "<video controls" in html
    assert 'download="invoice.pdf"' in html
    assert "Contact card: Bo Diddley" in html
    assert "Phone: +1" in html
    assert "https://www.openstreetmap.org/?mlat=48.85&amp;mlon=2.35" in html
    assert "Content the help desk cannot show" in html


def test_the_pages_file_links_are_signed_and_serve_the_file(scene: Scene, grace: Any) -> None:
    image = app_file(scene.app, png_bytes(3, 3), "receipt.png")
    inbound(scene, attachments=[{"type": "FILE", "fileId": image.pk}])
    html = _client(grace).get(_url(scene.ticket)).content.decode()
    link = html.split('<img src="', 1)[1].split('"', 1)[0]
    assert link.startswith("/files/download/")
    response = Client().get(link)  # The signature is the permission.
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert Client().get(link[:-3] + "xyz").status_code == 404


def test_the_thread_is_oldest_first_and_marks_direction_and_delivery(
    scene: Scene, grace: Any
) -> None:
    second = inbound(scene, text="Any news?")
    reply = reply_send(ticket=scene.ticket, author=grace, text="Shipped today")
    html = _client(grace).get(_url(scene.ticket)).content.decode()
    thread = html.split('data-testid="thread"', 1)[1]
    positions = [thread.index(f'data-message-id="{m.pk}"') for m in (scene.first, second, reply)]
    assert positions == sorted(positions)
    assert 'data-direction="INCOMING"' in thread
    assert 'data-direction="OUTGOING"' in thread
    assert 'data-testid="delivery-status" data-status="PENDING">Sending' in thread
    # A reply to the newest incoming message says which one.
    assert "Ada Lovelace: “Any news?”" in thread


def test_a_failed_reply_shows_the_reason_and_a_redeliver_button(scene: Scene, grace: Any) -> None:
    reply = reply_send(ticket=scene.ticket, author=grace, text="Hello?")
    Message.objects.filter(pk=reply.pk).update(
        status=MessageStatus.FAILED, failure_reason="HTTP 400: unknown thread"
    )
    html = _client(grace).get(_url(scene.ticket)).content.decode()
    assert (
        'data-status="FAILED">Failed: <span data-testid="failure-reason">HTTP 400: unknown' in html
    )
    assert f'action="/inbox/tickets/{scene.ticket.pk}/messages/{reply.pk}/redeliver/"' in html


def test_the_ticket_name_links_to_the_ticket_page_and_the_sidebar_shows_contact_and_history(
    scene: Scene, grace: Any
) -> None:
    contact = scene.ticket.contact
    contact.owner = grace
    contact.save(update_fields=["owner"])
    older = inbound(scene, thread="an-older-conversation", text="Earlier question")
    older_ticket = Ticket.objects.get(pk=older.ticket_id)
    html = _client(grace).get(_url(scene.ticket)).content.decode()
    assert f'href="/inbox/tickets/{scene.ticket.pk}/details/" data-testid="ticket-name"' in html
    assert 'data-testid="contact-owner">Grace Hopper<' in html
    previous = html.split('data-testid="previous-conversations"', 1)[1]
    assert f'href="/inbox/tickets/{older_ticket.pk}/"' in previous
    assert f'href="/inbox/tickets/{scene.ticket.pk}/"' not in previous
    # The left column of views is there too.
    assert 'data-testid="inbox-nav"' in html


def test_the_sidebar_shows_the_contacts_id_in_the_tickets_channel(grace: Any) -> None:
    app = AppFactory()
    channel, account = channel_with_account(
        app, deliveryIdentifierTypes=["CHANNEL_SPECIFIC_OPAQUE_ID"]
    )
    message = message_publish_inbound(
        app=app,
        channel=channel,
        account=account,
        direction="INCOMING",
        text="Hi",
        senders=[
            {
                "deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "hedy-42"},
                "name": "Hedy Lamarr",
            }
        ],
        integration_thread_id="opaque-1",
    ).message
    ticket = Ticket.objects.get(pk=message.ticket_id)
    html = _client(grace).get(_url(ticket)).content.decode()
    contact = html.split('data-testid="sidebar-contact"', 1)[1].split("</section>", 1)[0]
    assert f"Id in {channel.name}" in contact
    assert 'data-testid="contact-channel-id">hedy-42<' in contact


def test_the_pages_need_a_signed_in_rep_and_an_existing_ticket(scene: Scene, grace: Any) -> None:
    for suffix in ("", "details/", "messages/", f"messages/{scene.first.pk}/"):
        response = Client().get(_url(scene.ticket, suffix))
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    assert _client(grace).get("/inbox/tickets/999999/").status_code == 404
    other = conversation()
    wrong = _client(grace).get(_url(scene.ticket, f"messages/{other.first.pk}/"))
    assert wrong.status_code == 404


# --- Fragments for live updates --------------------------------------------------------------


def test_the_messages_fragment_returns_what_came_after_a_message(scene: Scene, grace: Any) -> None:
    second = inbound(scene, text="Second")
    third = inbound(scene, text="Third")
    html = _client(grace).get(_url(scene.ticket, f"messages/?after={second.pk}")).content.decode()
    assert f'data-message-id="{third.pk}"' in html
    assert f'data-message-id="{second.pk}"' not in html
    assert "<html" not in html


def test_earlier_messages_come_a_page_at_a_time(
    scene: Scene, grace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tickets.selectors.CONVERSATION_PAGE_SIZE", 2)
    messages = [scene.first] + [inbound(scene, text=f"Message {n}") for n in range(4)]
    client = _client(grace)
    page = client.get(_url(scene.ticket)).content.decode()
    shown = [m.pk for m in messages if f'data-message-id="{m.pk}"' in page]
    assert shown == [messages[3].pk, messages[4].pk]
    assert f"messages/?before={messages[3].pk}" in page
    earlier = client.get(_url(scene.ticket, f"messages/?before={messages[3].pk}")).content.decode()
    assert [m.pk for m in messages if f'data-message-id="{m.pk}"' in earlier] == [
        messages[1].pk,
        messages[2].pk,
    ]
    assert 'data-has-earlier="true"' in earlier


def test_one_message_fragment_shows_its_new_delivery_status(scene: Scene, grace: Any) -> None:
    reply = reply_send(ticket=scene.ticket, author=grace, text="Hi")
    Message.objects.filter(pk=reply.pk).update(status=MessageStatus.READ)
    html = _client(grace).get(_url(scene.ticket, f"messages/{reply.pk}/")).content.decode()
    assert html.strip().startswith("<li")
    assert 'data-status="READ">Read' in html


# --- Replying through the page --------------------------------------------------------------


def test_a_reply_posted_by_the_script_answers_its_thread_item(scene: Scene, grace: Any) -> None:
    second = inbound(scene, text="Second")
    response = _json_post(
        _client(grace),
        _url(scene.ticket, "reply/"),
        {
            "medium": "CUSTOM_CHANNEL",
            "text": "About your first message",
            "in_reply_to": scene.first.pk,
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    message = Message.objects.get(pk=body["messageId"])
    assert message.in_reply_to_id == scene.first.pk != second.pk
    assert message.sender_user_id == grace.pk
    assert f'data-message-id="{message.pk}"' in body["html"]
    assert "Owned by Grace Hopper" in body["sidebar"], "replying took the unassigned ticket"
    assert Delivery.objects.filter(message=message).exists()


def test_a_reply_posted_by_a_form_redirects_to_it(scene: Scene, grace: Any) -> None:
    response = _client(grace).post(
        _url(scene.ticket, "reply/"), {"medium": "CUSTOM_CHANNEL", "text": "Hi"}
    )
    message = Message.objects.get(direction="OUTGOING")
    assert response.status_code == 302
    assert response["Location"] == f"{_url(scene.ticket)}#message-{message.pk}"


def test_a_refused_reply_shows_why_next_to_the_editor_and_stores_nothing(
    scene: Scene, grace: Any
) -> None:
    channel_account_deactivate(account=scene.account)
    client = _client(grace)
    response = _json_post(
        client, _url(scene.ticket, "reply/"), {"medium": "CUSTOM_CHANNEL", "text": "Hi"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "The channel account is inactive."
    page = client.post(_url(scene.ticket, "reply/"), {"medium": "CUSTOM_CHANNEL", "text": "Hi"})
    assert page.status_code == 400
    html = page.content.decode()
    error_box = html.split('data-testid="composer-error"', 1)[1].split("</div>", 1)[0]
    assert "The channel account is inactive." in error_box
    assert "The channel account is inactive." in html.split('data-testid="channel-switch"', 1)[1]
    assert not Message.objects.filter(direction="OUTGOING").exists()


def test_rep_uploads_are_checked_against_the_chosen_channel(grace: Any, settings: Any) -> None:
    scene = conversation(maxFileAttachmentSizeBytes=1_000)
    client = _client(grace)
    url = _url(scene.ticket, "uploads/?medium=CUSTOM_CHANNEL")
    from django.core.files.uploadedfile import SimpleUploadedFile

    ok = client.post(url, {"file": SimpleUploadedFile("p.png", png_bytes(2, 2))})
    assert ok.status_code == 201, ok.content
    stored = File.objects.get(pk=ok.json()["id"])
    assert (stored.uploaded_by_id, stored.content_type, stored.app_id) == (
        grace.pk,
        "image/png",
        None,
    )

    big = client.post(url, {"file": SimpleUploadedFile("big.png", png_bytes(2, 2) + bytes(2_000))})
    assert big.status_code == 400
    assert big.json()["message"] == "big.png is larger than the limit of 1000 bytes."
    exe = client.post(url, {"file": SimpleUploadedFile("tool.exe", b"MZ\x90\x00" + bytes(50))})
    assert exe.status_code == 400
    assert "not accepted" in exe.json()["message"]
    call = client.post(
        _url(scene.ticket, "uploads/?medium=CALL"),
        {"file": SimpleUploadedFile("p.png", png_bytes())},
    )
    assert call.status_code == 400
    settings.FILE_UPLOAD_MAX_BYTES = 100
    email_scene = conversation(contact_email="ada@example.com")
    too_big = client.post(
        _url(email_scene.ticket, "uploads/?medium=EMAIL"),
        {"file": SimpleUploadedFile("big.png", png_bytes(2, 2) + bytes(500))},
    )
    assert too_big.status_code == 400
    assert File.objects.count() == 1


def test_the_server_refuses_an_over_size_attachment_at_sending_too(grace: Any) -> None:
    scene = conversation(maxFileAttachmentSizeBytes=1_000)
    big = File.objects.create(
        uploaded_by=grace, name="big.png", size=5_000, content_type="image/png", file="x.png"
    )
    response = _json_post(
        _client(grace),
        _url(scene.ticket, "reply/"),
        {"medium": "CUSTOM_CHANNEL", "text": "See attached", "file_ids": [big.pk]},
    )
    assert response.status_code == 400
    assert (
        response.json()["message"] == "big.png: is larger than this channel's limit of 1000 bytes."
    )
    assert not Message.objects.filter(direction="OUTGOING").exists()


def test_without_the_script_files_are_posted_with_the_reply(scene: Scene, grace: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = _client(grace).post(
        _url(scene.ticket, "reply/"),
        {
            "medium": "CUSTOM_CHANNEL",
            "text": "The label",
            "files": [SimpleUploadedFile("label.png", png_bytes(2, 2))],
        },
    )
    assert response.status_code == 302
    message = Message.objects.get(direction="OUTGOING")
    attachment = message.attachments.get()
    assert (attachment.file.name, attachment.file.uploaded_by_id) == ("label.png", grace.pk)
    assert attachment.file_usage_type == "IMAGE"


def test_a_rep_attaches_only_their_own_uploads(scene: Scene, grace: Any) -> None:
    someone = rep("someone")
    theirs = File.objects.create(
        uploaded_by=someone, name="p.png", size=10, content_type="image/png", file="x.png"
    )
    response = _json_post(
        _client(grace),
        _url(scene.ticket, "reply/"),
        {"medium": "CUSTOM_CHANNEL", "text": "x", "file_ids": [theirs.pk]},
    )
    assert response.status_code == 400
    assert "attach it again" in response.json()["message"]


def test_send_and_set_status_asks_for_required_properties_and_then_does_both(
    scene: Scene, grace: Any
) -> None:
    escalated = conditional_status(required=("priority", "category"))
    client = _client(grace)
    data = {"medium": "CUSTOM_CHANNEL", "text": "Escalating", "status": escalated.pk}
    refused = _json_post(client, _url(scene.ticket, "reply/"), data)
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"set_priority", "set_category"}
    assert not Message.objects.filter(direction="OUTGOING").exists()
    assert not Delivery.objects.filter(message__isnull=False).exists()

    data.update(set_priority="HIGH", set_category="BILLING_ISSUE")
    done = _json_post(client, _url(scene.ticket, "reply/"), data)
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "Escalated"
    scene.ticket.refresh_from_db()
    assert (scene.ticket.status_id, scene.ticket.priority, scene.ticket.category) == (
        escalated.pk,
        "HIGH",
        "BILLING_ISSUE",
    )
    assert Message.objects.filter(direction="OUTGOING", text="Escalating").count() == 1


def test_without_the_script_a_missing_property_reopens_the_dialog_with_its_error(
    scene: Scene, grace: Any
) -> None:
    escalated = conditional_status(required=("priority",))
    page = _client(grace).post(
        _url(scene.ticket, "reply/"),
        {"medium": "CUSTOM_CHANNEL", "text": "Escalating", "status": escalated.pk},
    )
    assert page.status_code == 400
    dialog = page.content.decode().split('data-testid="status-dialog" open', 1)[1]
    assert "is required by Escalated" in dialog
    assert f'name="status" value="{escalated.pk}"' in dialog


def test_logging_a_call_needs_its_duration_and_outcome(scene: Scene, grace: Any) -> None:
    client = _client(grace)
    missing = _json_post(client, _url(scene.ticket, "reply/"), {"medium": "CALL", "text": "Rang"})
    assert missing.status_code == 400
    assert set(missing.json()["errors"]) == {"call_duration", "call_outcome"}
    logged = _json_post(
        client,
        _url(scene.ticket, "reply/"),
        {"medium": "CALL", "text": "Rang", "call_duration": 3, "call_outcome": "NO_ANSWER"},
    )
    assert logged.status_code == 200
    assert "Call · No answer · 3 min" in logged.json()["html"]


# --- Owner menu and Redeliver ---------------------------------------------------------------


def test_the_owner_menu_reassigns_and_notifies_the_new_owner(scene: Scene, grace: Any) -> None:
    linus = rep("linus", first_name="Linus")
    response = _client(grace).post(
        _url(scene.ticket, "owner/"), {"owner": linus.pk, "next": _url(scene.ticket, "details/")}
    )
    assert response.status_code == 302
    assert response["Location"] == _url(scene.ticket, "details/")
    scene.ticket.refresh_from_db()
    assert scene.ticket.owner_id == linus.pk
    assert Notification.objects.filter(user=linus, kind="TICKET_ASSIGNED").count() == 1
    off_site = _client(grace).post(
        _url(scene.ticket, "owner/"), {"owner": "", "next": "https://x.example/"}
    )
    assert off_site["Location"] == _url(scene.ticket)
    scene.ticket.refresh_from_db()
    assert scene.ticket.owner_id is None


def test_redeliver_sends_a_failed_reply_again_with_the_same_event(
    grace: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with running_receiver() as receiver:
        scene = conversation(webhook_url=receiver.url)
        reply = reply_send(ticket=scene.ticket, author=grace, text="Hello?")
        delivery = Delivery.objects.get(message=reply)
        Delivery.objects.filter(pk=delivery.pk).update(status="failed", last_error="HTTP 400")
        Message.objects.filter(pk=reply.pk).update(
            status=MessageStatus.FAILED, failure_reason="HTTP 400"
        )
        client = _client(grace)
        with django_capture_on_commit_callbacks(execute=True):
            response = _json_post(client, _url(scene.ticket, f"messages/{reply.pk}/redeliver/"), {})
        assert response.status_code == 200, response.content
        [request] = receiver.wait_for(1)
    assert request.headers["webhook-id"] == str(delivery.event_id)
    reply.refresh_from_db()
    assert (reply.status, reply.failure_reason) == (MessageStatus.SENT, "")
    assert 'data-status="PENDING">Sending' in response.json()["html"]
    again = _json_post(client, _url(scene.ticket, f"messages/{scene.first.pk}/redeliver/"), {})
    assert again.status_code == 409
    assert again.json()["message"] == "Only a failed reply can be sent again."


# --- The ticket page ------------------------------------------------------------------------


def test_the_ticket_page_saves_properties_and_shows_history_and_routing(
    scene: Scene, grace: Any
) -> None:
    pipeline = default_pipeline()
    waiting = pipeline.statuses.get(name="Waiting on contact")
    client = _client(grace)
    page = client.get(_url(scene.ticket, "details/"))
    assert page.status_code == 200
    assert "The channel account has no routing rule: left unassigned." in page.content.decode()

    response = client.post(
        _url(scene.ticket, "details/"),
        {
            "name": "Late order 1234",
            "pipeline": pipeline.pk,
            "status": waiting.pk,
            "priority": "HIGH",
            "category": "",
            "owner": grace.pk,
        },
    )
    assert response.status_code == 302
    scene.ticket.refresh_from_db()
    assert (
        scene.ticket.name,
        scene.ticket.status_id,
        scene.ticket.priority,
        scene.ticket.owner_id,
    ) == (
        "Late order 1234",
        waiting.pk,
        "HIGH",
        grace.pk,
    )
    history = (
        client.get(_url(scene.ticket, "details/"))
        .content.decode()
        .split('data-testid="history"')[1]
    )
    assert "Status changed from “New” to “Waiting on contact”" in history
    assert "Priority set to “High”" in history
    assert "Name changed from" in history
    assert "Assigned to Grace Hopper by Grace Hopper." in history


def test_the_ticket_page_shows_errors_beside_the_fields_and_saves_nothing(
    scene: Scene, grace: Any
) -> None:
    pipeline = default_pipeline()
    escalated = conditional_status(required=("priority",))
    response = _client(grace).post(
        _url(scene.ticket, "details/"),
        {
            "name": "  ",
            "pipeline": pipeline.pk,
            "status": escalated.pk,
            "priority": "",
            "owner": "",
        },
    )
    assert response.status_code == 400
    form = response.content.decode().split('data-testid="ticket-form"', 1)[1]
    assert 'for="id_name">Ticket name</label>' in form
    name_field = form.split('for="id_name"', 1)[1].split('<div class="field', 1)[0]
    assert "errorlist" in name_field
    response = _client(grace).post(
        _url(scene.ticket, "details/"),
        {
            "name": "Fine",
            "pipeline": pipeline.pk,
            "status": escalated.pk,
            "priority": "",
            "owner": "",
        },
    )
    priority_field = (
        response.content.decode().split('for="id_priority"', 1)[1].split('<div class="field', 1)[0]
    )
    assert "is required by the status Escalated" in priority_field
    scene.ticket.refresh_from_db()
    assert scene.ticket.name != "Fine"
    assert not TicketChange.objects.exists()


def test_ticket_update_reports_every_problem_at_once(scene: Scene, grace: Any) -> None:
    from tickets.services import TicketUpdateRefused

    other_pipeline_status = conditional_status("Elsewhere")
    other_pipeline_status.pipeline = type(default_pipeline()).objects.create(name="Sales")
    other_pipeline_status.save()
    with pytest.raises(TicketUpdateRefused) as refused:
        ticket_update(
            ticket=scene.ticket,
            by=grace,
            name="",
            priority="SOMEDAY",
            category="NOPE",
            status=other_pipeline_status,
        )
    assert {error["in"] for error in refused.value.errors} == {
        "name",
        "priority",
        "category",
        "status",
    }


# --- Query counts ---------------------------------------------------------------------------


def _thread_of(count: int, grace: Any) -> Scene:
    """A conversation of ``count`` messages, each with an image, half of them rep replies."""
    scene = conversation()
    for index in range(count - 1):
        image = app_file(scene.app, png_bytes(1, 1), f"{index}.png")
        if index % 2:
            inbound(
                scene, text=f"Message {index}", attachments=[{"type": "FILE", "fileId": image.pk}]
            )
        else:
            reply_send(ticket=scene.ticket, author=grace, text=f"Reply {index}")
    contact = scene.ticket.contact
    contact.owner = grace
    contact.save(update_fields=["owner"])
    for index in range(min(count, 5)):
        inbound(scene, thread=f"older-{index}", text="Older")
    return scene


# Session, user; the ticket with its relations; the messages, their attachments; the
# pipeline's statuses; the owner menu's users; the contact's other tickets and channel ids; the
# views' custom views and counts.
CONVERSATION_QUERIES = 11


@pytest.mark.parametrize("count", [1, 20])
def test_the_conversation_page_costs_the_same_queries_whatever_the_thread(
    count: int, grace: Any, django_assert_num_queries: Any
) -> None:
    scene = _thread_of(count, grace)
    client = _client(grace)
    client.get(_url(scene.ticket))  # Warm up the session.
    with django_assert_num_queries(CONVERSATION_QUERIES):
        response = client.get(_url(scene.ticket))
    assert response.content.decode().count("data-message-id=") == count


# Session, user; the ticket; the decisions; the changes; pipelines and their statuses; the
# owner menu's users; the views' custom views and counts.
TICKET_PAGE_QUERIES = 10


@pytest.mark.parametrize("count", [1, 20])
def test_the_ticket_page_costs_the_same_queries_whatever_its_history(
    count: int, grace: Any, django_assert_num_queries: Any
) -> None:
    scene = _thread_of(count, grace)
    statuses = list(default_pipeline().statuses.all())
    for index in range(count):
        ticket_update(ticket=scene.ticket, by=grace, priority=["LOW", "HIGH"][index % 2])
        ticket_update(ticket=scene.ticket, by=grace, status=statuses[index % 3])
    client = _client(grace)
    client.get(_url(scene.ticket, "details/"))
    with django_assert_num_queries(TICKET_PAGE_QUERIES):
        response = client.get(_url(scene.ticket, "details/"))
    assert response.status_code == 200
    # The whole history is on the page: every change and decision, and the creation.
    history = response.content.decode().split('data-testid="history"')[1].split("</ol>")[0]
    changes = TicketChange.objects.filter(ticket=scene.ticket).count()
    decisions = AssignmentDecision.objects.filter(ticket=scene.ticket).count()
    assert changes >= count
    assert history.count("<li>") == changes + decisions + 1


@pytest.mark.parametrize("medium", ["CUSTOM_CHANNEL", "EMAIL"])
def test_a_reply_costs_the_same_queries_whatever_its_number_of_files(
    grace: Any, medium: str
) -> None:
    """The reply's thread item is rendered from one read of the message with its attachments,
    their files and its author, not a query per attachment."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    scene = conversation(contact_email="ada@example.com")
    client = _client(grace)

    def reply_queries(files: int) -> int:
        ids = []
        for number in range(files):
            upload = client.post(
                _url(scene.ticket, f"uploads/?medium={medium}"),
                {"file": SimpleUploadedFile(f"p{number}.png", png_bytes(2, 2))},
            )
            assert upload.status_code == 201, upload.content
            ids.append(upload.json()["id"])
        with CaptureQueriesContext(connection) as queries:
            response = _json_post(
                client,
                _url(scene.ticket, "reply/"),
                {"medium": medium, "text": "See attached", "file_ids": ids},
            )
        assert response.status_code == 200, response.content
        assert response.json()["html"].count('data-testid="attachment"') == files
        return len(queries)

    reply_queries(0)  # the first reply also makes the ticket Grace's
    assert reply_queries(1) == reply_queries(2)
