"""The channel switch's services (SPEC I6, I7): which ways of replying can be used and why
not, email replies through Django's email backend, logged calls, sending a failed reply again,
and "send and set status" in one transaction."""

from __future__ import annotations

import re
import smtplib
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.files.base import ContentFile

from channels_app.accounts import channel_account_deactivate
from channels_app.models import Delivery
from routing.models import AssignmentDecision
from tests.receiver import Answer, running_receiver
from tests.tickets.conversation_scenes import (
    Scene,
    conditional_status,
    conversation,
    inbound,
    rep,
)
from tests.tickets.factories import png_bytes
from tickets.models import File, LiveEvent, Message, MessageStatus, TicketChange
from tickets.replies import ReplyRefused, reply_send
from tickets.reply_channels import (
    CallDetails,
    call_log,
    email_reply_deliver,
    email_reply_send,
    reply_options,
    reply_redeliver,
    reply_send_and_set_status,
)
from tickets.services import TicketUpdateRefused

pytestmark = pytest.mark.django_db


@pytest.fixture
def grace() -> Any:
    return rep("grace", first_name="Grace", last_name="Hopper")


@pytest.fixture
def scene() -> Scene:
    return conversation(contact_email="ada@example.com")


def _options(scene: Scene) -> dict[str, Any]:
    ticket = scene.ticket
    return {option.medium: option for option in reply_options(ticket=ticket, thread=ticket.thread)}


def _rep_file(user: Any, content: bytes, name: str) -> File:
    file = File(uploaded_by=user, name=name, size=len(content), content_type="image/png")
    file.file.save(name, ContentFile(content), save=False)
    file.save()
    return file


# --- The channel switch ---------------------------------------------------------------------


def test_the_switch_offers_the_account_email_and_a_call_with_each_ones_limits(scene: Scene) -> None:
    options = _options(scene)
    assert list(options) == ["CUSTOM_CHANNEL", "EMAIL", "CALL"]
    assert all(option.usable for option in options.values())
    custom = options["CUSTOM_CHANNEL"]
    assert custom.label == f"{scene.channel.name} · {scene.account.name}"
    assert custom.limits == {
        "files": True,
        "maxFileAttachmentCount": 2,
        "maxFileAttachmentSizeBytes": 1_500_000,
        "maxTotalFileAttachmentSizeBytes": 2_000_000,
        "allowedFileAttachmentMimeTypes": ["image/png", "image/jpeg", "application/pdf"],
        "richText": [],
    }
    assert options["EMAIL"].label == "Email to ada@example.com"
    assert options["CALL"].limits["files"] is False


@pytest.mark.parametrize(
    ("change", "medium", "reason"),
    [
        ("no_email", "EMAIL", "The contact has no email address."),
        ("deactivate", "CUSTOM_CHANNEL", "The channel account is inactive."),
        ("no_outgoing", "CUSTOM_CHANNEL", "This channel does not accept outgoing messages."),
    ],
)
def test_a_way_of_replying_that_cannot_be_used_says_why(
    change: str, medium: str, reason: str
) -> None:
    scene = conversation(
        contact_email="" if change == "no_email" else "ada@example.com",
        allowOutgoingMessages=change != "no_outgoing",
    )
    if change == "deactivate":
        channel_account_deactivate(account=scene.account)
    scene.ticket.refresh_from_db()
    option = _options(scene)[medium]
    assert not option.usable
    assert option.problem == reason
    assert _options(scene)["CALL"].usable


def test_a_channel_without_files_or_with_rich_text_says_so_in_its_limits() -> None:
    scene = conversation(outgoingAttachmentTypes=[], richText=["BOLD", "HYPERLINK"])
    limits = _options(scene)["CUSTOM_CHANNEL"].limits
    assert limits["files"] is False
    assert limits["richText"] == ["BOLD", "HYPERLINK"]


# --- Email ----------------------------------------------------------------------------------


def test_an_email_reply_is_sent_after_commit_and_recorded_in_the_thread(
    scene: Scene, grace: Any, django_capture_on_commit_callbacks: Any
) -> None:
    newest = inbound(scene, text="Can you email me the invoice?")
    invoice = _rep_file(grace, png_bytes(2, 2), "invoice.png")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = email_reply_send(
            ticket=scene.ticket, author=grace, text="Here it is.", files=[invoice]
        )
    assert mail.outbox == [], "nothing leaves before commit"
    assert message.status == MessageStatus.PENDING
    for callback in callbacks:
        callback()

    [email] = mail.outbox
    assert email.to == ["ada@example.com"]
    assert email.subject == f"Re: {scene.ticket.name}"
    assert email.body == "Here it is."
    assert email.attachments[0][0] == "invoice.png"
    message.refresh_from_db()
    assert (message.medium, message.direction, message.status) == ("EMAIL", "OUTGOING", "SENT")
    assert message.channel_id is None
    assert message.in_reply_to_id == newest.pk
    assert message.recipients[0]["deliveryIdentifier"] == {
        "type": "HS_EMAIL_ADDRESS",
        "value": "ada@example.com",
    }
    assert message.attachments.get().file_id == invoice.pk
    scene.ticket.refresh_from_db()
    assert scene.ticket.owner_id == grace.pk, "replying took the unassigned ticket"
    assert not Delivery.objects.filter(message=message).exists(), "the app never sees it"
    kinds = list(LiveEvent.objects.filter(message_id=message.pk).values_list("kind", flat=True))
    assert kinds == ["message.created", "message.status_changed"]


def test_an_email_that_cannot_be_sent_fails_with_the_reason_and_can_be_sent_again(
    scene: Scene, grace: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch(
            "django.core.mail.backends.locmem.EmailBackend.send_messages",
            side_effect=smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"No such user")}),
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = email_reply_send(ticket=scene.ticket, author=grace, text="Hello")
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.failure_reason.startswith("The email could not be sent:")
    assert "No such user" in message.failure_reason

    with django_capture_on_commit_callbacks(execute=True):
        reply_redeliver(message=message)
    message.refresh_from_db()
    assert (message.status, message.failure_reason) == (MessageStatus.SENT, "")
    assert len(mail.outbox) == 1


def test_delivering_an_email_twice_sends_it_once(
    scene: Scene, grace: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message = email_reply_send(ticket=scene.ticket, author=grace, text="Once")
    assert email_reply_deliver(message_id=message.pk) is False
    assert len(mail.outbox) == 1


def test_an_email_to_a_contact_without_an_address_is_refused_and_stores_nothing(
    grace: Any,
) -> None:
    scene = conversation()
    with pytest.raises(ReplyRefused, match="no email address"):
        email_reply_send(ticket=scene.ticket, author=grace, text="Hello")
    with pytest.raises(ReplyRefused, match="Write a message"):
        email_reply_send(ticket=conversation(contact_email="a@b.c").ticket, author=grace, text=" ")
    assert not Message.objects.filter(direction="OUTGOING").exists()


@pytest.mark.parametrize(
    ("sizes", "problem"),
    [
        ([10] * 11, "this channel accepts at most 10 files"),
        ([3_000], "p0.png: is larger than this channel's limit of 2000 bytes."),
        ([1_500, 1_500], "files total 3000 bytes, above this channel's limit of 2000"),
    ],
)
def test_an_email_carries_at_most_ten_files_within_the_upload_limit(
    scene: Scene, grace: Any, settings: Any, sizes: list[int], problem: str
) -> None:
    settings.FILE_UPLOAD_MAX_BYTES = 2_000
    files = [
        File.objects.create(
            uploaded_by=grace, name=f"p{i}.png", size=size, content_type="image/png", file="x"
        )
        for i, size in enumerate(sizes)
    ]
    with pytest.raises(ReplyRefused, match=re.escape(problem)):
        email_reply_send(ticket=scene.ticket, author=grace, text="Hello", files=files)
    assert not Message.objects.filter(direction="OUTGOING").exists()
    # The editor is told the same limits.
    email = _options(scene)["EMAIL"]
    assert email.limits["maxFileAttachmentCount"] == 10
    assert email.limits["maxTotalFileAttachmentSizeBytes"] == 2_000


# --- Logged calls ---------------------------------------------------------------------------


def test_a_logged_call_is_a_note_in_the_thread_with_its_duration_and_outcome(
    scene: Scene, grace: Any
) -> None:
    message = call_log(
        ticket=scene.ticket,
        author=grace,
        call=CallDetails(duration_seconds=300, outcome="LEFT_VOICEMAIL"),
        note="  Left a message about the refund.  ",
    )
    message.refresh_from_db()
    assert (message.medium, message.direction, message.status) == ("CALL", "OUTGOING", "SENT")
    assert message.text == "Left a message about the refund."
    assert message.details == {"durationSeconds": 300, "outcome": "LEFT_VOICEMAIL"}
    assert message.recipients[0]["deliveryIdentifier"]["type"] == "HS_PHONE_NUMBER"
    assert not Delivery.objects.filter(message=message).exists()
    assert mail.outbox == []


def test_a_call_with_a_bad_duration_or_outcome_is_refused_with_both_fields(
    scene: Scene, grace: Any
) -> None:
    with pytest.raises(ReplyRefused) as refused:
        call_log(
            ticket=scene.ticket,
            author=grace,
            call=CallDetails(duration_seconds=-60, outcome="SHRUG"),
        )
    assert {error["in"] for error in refused.value.errors} == {"call_duration", "call_outcome"}
    assert not Message.objects.filter(medium="CALL").exists()


# --- Redeliver ------------------------------------------------------------------------------


def test_redeliver_refuses_what_is_not_a_failed_reply(scene: Scene, grace: Any) -> None:
    with pytest.raises(ReplyRefused, match="Only a failed reply"):
        reply_redeliver(message=scene.first)
    pending = reply_send(ticket=scene.ticket, author=grace, text="Still on its way")
    with pytest.raises(ReplyRefused, match="Only a failed reply"):
        reply_redeliver(message=pending)
    Message.objects.filter(pk=pending.pk).update(status=MessageStatus.FAILED)
    pending.refresh_from_db()
    with pytest.raises(ReplyRefused, match="still being attempted"):
        reply_redeliver(message=pending)


# --- Send and set status --------------------------------------------------------------------


def test_send_and_set_status_does_both_in_one_transaction(
    grace: Any, django_capture_on_commit_callbacks: Any
) -> None:
    escalated = conditional_status(required=("priority",))
    with running_receiver() as receiver:
        scene = conversation(webhook_url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            message = reply_send_and_set_status(
                ticket=scene.ticket,
                author=grace,
                status=escalated,
                properties={"priority": "URGENT"},
                text="Escalated to our specialists",
            )
        receiver.wait_for(1)
    scene.ticket.refresh_from_db()
    assert (scene.ticket.status_id, scene.ticket.priority) == (escalated.pk, "URGENT")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    changes = {
        (c.field, c.new_value, c.by_id) for c in TicketChange.objects.filter(ticket=scene.ticket)
    }
    assert changes == {("priority", "Urgent", grace.pk), ("status", "Escalated", grace.pk)}


@pytest.mark.parametrize("problem", ["missing_property", "bad_property", "inactive_account"])
def test_send_and_set_status_stores_and_sends_nothing_when_either_part_is_refused(
    problem: str, grace: Any, django_capture_on_commit_callbacks: Any
) -> None:
    escalated = conditional_status(required=("priority",))
    with running_receiver([Answer(200)]) as receiver:
        scene = conversation(webhook_url=receiver.url)
        properties: dict[str, Any] = {"priority": "HIGH"}
        if problem == "missing_property":
            properties = {}
        elif problem == "bad_property":
            properties = {"priority": "WHENEVER"}
        else:
            channel_account_deactivate(account=scene.account)
        before = scene.ticket.status_id
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises((ReplyRefused, TicketUpdateRefused)) as refused,
        ):
            reply_send_and_set_status(
                ticket=scene.ticket,
                author=grace,
                status=escalated,
                properties=properties,
                text="Escalating",
            )
        assert receiver.requests == []
    assert callbacks == []
    if problem == "missing_property":
        assert [error["in"] for error in refused.value.errors] == ["priority"]
    scene.ticket.refresh_from_db()
    assert (scene.ticket.status_id, scene.ticket.priority, scene.ticket.owner_id) == (
        before,
        "",
        None,
    )
    assert not Message.objects.filter(direction="OUTGOING").exists()
    assert not TicketChange.objects.exists()
    assert not AssignmentDecision.objects.filter(trigger="MANUAL").exists()


def test_send_and_set_status_counts_the_reply_as_taking_an_unassigned_ticket(
    scene: Scene, grace: Any
) -> None:
    owned = conditional_status("Owned", required=("owner",))
    reply_send_and_set_status(
        ticket=scene.ticket, author=grace, status=owned, medium="EMAIL", text="Mine now"
    )
    scene.ticket.refresh_from_db()
    assert (scene.ticket.status_id, scene.ticket.owner_id) == (owned.pk, grace.pk)
    decision = AssignmentDecision.objects.get(ticket=scene.ticket, trigger="MANUAL")
    assert decision.summary == "Taken by Grace Hopper, who replied while it was unassigned."


@pytest.mark.parametrize("medium", ["CUSTOM_CHANNEL", "EMAIL", "CALL"])
def test_a_ticket_waiting_in_the_backlog_leaves_it_when_a_rep_takes_it_by_replying(
    grace: Any, medium: str
) -> None:
    from routing.models import WaitingTicket
    from tickets.reply_channels import reply_by_medium

    scene = conversation(contact_email="ada@example.com")
    WaitingTicket.objects.create(
        ticket=scene.ticket, channel_account_id=scene.account.pk, since=scene.ticket.created_at
    )
    reply_by_medium(
        ticket=scene.ticket,
        author=grace,
        medium=medium,
        text="On it",
        call=CallDetails(duration_seconds=60, outcome="CONNECTED") if medium == "CALL" else None,
    )
    scene.ticket.refresh_from_db()
    assert scene.ticket.owner_id == grace.pk
    assert not WaitingTicket.objects.filter(ticket=scene.ticket).exists()
    decision = AssignmentDecision.objects.get(ticket=scene.ticket, trigger="MANUAL")
    assert decision.summary == "Taken by Grace Hopper, who replied while it was unassigned."


def test_a_status_of_another_pipeline_is_refused(scene: Scene, grace: Any) -> None:
    from tickets.models import Pipeline, PipelineStatus

    other = PipelineStatus.objects.create(
        pipeline=Pipeline.objects.create(name="Sales"), name="Won", state="CLOSED"
    )
    with pytest.raises(ReplyRefused, match="not in the ticket's pipeline"):
        reply_send_and_set_status(ticket=scene.ticket, author=grace, status=other, text="x")
    assert not Message.objects.filter(direction="OUTGOING").exists()
