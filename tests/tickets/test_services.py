"""The services of tickets, called directly: the cases the API tests don't reach."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import IntegrityError

from helpdesk.api_errors import ApiError, Conflict, NotFound, Unprocessable
from tests.factories import AppFactory, ChannelAccountFactory, CustomChannelFactory
from tests.tickets.factories import channel_with_account, sender
from tickets.models import Message, PipelineStatus, Thread, Ticket
from tickets.publish import message_publish_inbound, ticket_name_render
from tickets.services import message_status_update, rich_text_clean, ticket_set_status

pytestmark = pytest.mark.django_db


def _publish(app, channel, account, **kwargs):
    params = {
        "direction": "INCOMING",
        "text": "hi",
        "senders": [sender("+15550100000", name="Ada")],
    }
    params.update(kwargs)
    return message_publish_inbound(app=app, channel=channel, account=account, **params)


@pytest.fixture
def conversation():
    app = AppFactory()
    channel, account = channel_with_account(app)
    return app, channel, account


def test_publish_reports_new_tickets_and_replays(conversation):
    app, channel, account = conversation
    first = _publish(
        app, channel, account, integration_thread_id="t", integration_idempotency_id="1"
    )
    follow = _publish(app, channel, account, integration_thread_id="t")
    replay = _publish(app, channel, account, integration_idempotency_id="1")
    assert (first.ticket_created, first.replayed) == (True, False)
    assert (follow.ticket_created, follow.replayed) == (False, False)
    assert replay.replayed
    assert replay.message == first.message


def test_idempotency_key_with_another_request_hash_is_unprocessable(conversation):
    app, channel, account = conversation
    _publish(app, channel, account, idempotency_key="k", request_hash="a" * 64)
    with pytest.raises(Unprocessable):
        _publish(app, channel, account, idempotency_key="k", request_hash="b" * 64)


def test_an_account_of_another_channel_is_not_found(conversation):
    app, channel, _ = conversation
    stranger = ChannelAccountFactory(channel=CustomChannelFactory(app=app))
    with pytest.raises(NotFound):
        _publish(app, channel, stranger)


def test_another_apps_channel_is_not_found(conversation):
    _, channel, account = conversation
    with pytest.raises(NotFound):
        _publish(AppFactory(), channel, account)


def test_an_inactive_account_conflicts(conversation):
    app, channel, account = conversation
    account.authorized = False
    with pytest.raises(Conflict):
        _publish(app, channel, account)
    assert Message.objects.count() == 0


def test_an_unexpected_integrity_error_is_not_mistaken_for_a_replay(conversation):
    app, channel, account = conversation
    with (
        mock.patch("tickets.publish.ticket_route", side_effect=IntegrityError("other")),
        pytest.raises(IntegrityError),
    ):
        _publish(app, channel, account, integration_idempotency_id="x")
    assert Message.objects.count() == 0
    assert Ticket.objects.count() == 0


def test_losing_the_thread_race_joins_the_winners_thread(conversation):
    """Simulates the race: the open-thread lookup misses, the insert hits the constraint."""
    app, channel, account = conversation
    winner = _publish(app, channel, account, integration_thread_id="t").message
    from tickets import publish

    real = publish._open_thread_locked
    calls = {"count": 0}

    def miss_once(account, key):
        calls["count"] += 1
        return None if calls["count"] == 1 else real(account, key)

    with mock.patch.object(publish, "_open_thread_locked", side_effect=miss_once):
        loser = _publish(app, channel, account, integration_thread_id="t").message

    assert loser.thread_id == winner.thread_id
    assert Ticket.objects.count() == 1
    assert Thread.objects.count() == 1


def test_outgoing_needs_a_recipient(conversation):
    app, channel, account = conversation
    with pytest.raises(ApiError) as raised:
        _publish(app, channel, account, direction="OUTGOING", recipients=[])
    assert raised.value.errors[0]["in"] == "recipients"


class TestRichText:
    def test_empty_stays_empty(self):
        assert rich_text_clean("", {"richText": ["BOLD"]}) == ""

    def test_all_features(self):
        capabilities = {
            "richText": ["HYPERLINK", "BOLD", "ITALIC", "BLOCKQUOTE", "LISTS", "TEXT_ALIGNMENT"]
        }
        html = (
            '<p style="text-align: center; position: fixed">t</p><strong>s</strong><em>e</em>'
            "<blockquote>q</blockquote><ul><li>x</li></ul><ol><li>y</li></ol>"
            '<a href="mailto:a@example.com">m</a><img src="https://x/y.png">'
        )
        cleaned = rich_text_clean(html, capabilities)
        assert '<p style="text-align:center">t</p>' in cleaned
        for tag in ("strong", "em", "blockquote", "ul", "ol", "li"):
            assert f"<{tag}>" in cleaned
        assert 'href="mailto:a@example.com"' in cleaned
        assert 'rel="noopener noreferrer nofollow"' in cleaned
        assert "<img" not in cleaned

    def test_inline_images_need_the_capability(self):
        cleaned = rich_text_clean(
            '<img src="https://x/y.png" onerror="alert(1)">', {"allowInlineImages": True}
        )
        assert cleaned == '<img src="https://x/y.png">'

    def test_no_styles_without_text_alignment(self):
        assert rich_text_clean('<p style="color:red">x</p>', {}) == "<p>x</p>"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{contact} via {channel}", "Ada via SMS"),
        ("{channel} / {account}: {contact}", "SMS / Line 1: Ada"),
        ("{unknown} {contact.__class__} {", "{unknown} {contact.__class__} {"),
        ("", "Ada via SMS"),
        ("   ", "Ada via SMS"),
        ("{contact}" * 100, "Ada" * 100),
    ],
)
def test_ticket_names_render_safely(template, expected):
    assert ticket_name_render(template, contact="Ada", channel="SMS", account="Line 1") == expected


class TestTicketSetStatus:
    def _ticket(self, conversation):
        app, channel, account = conversation
        return _publish(app, channel, account, integration_thread_id="t").message.ticket

    def test_closing_closes_the_thread(self, conversation):
        ticket = self._ticket(conversation)
        closed = PipelineStatus.objects.get(pipeline=ticket.pipeline, state="CLOSED")
        ticket = ticket_set_status(ticket=ticket, status=closed)
        assert ticket.state == "CLOSED"
        assert ticket.closed_at is not None
        assert not Thread.objects.get(ticket=ticket).is_open

    def test_reopening_after_a_new_thread_took_over_leaves_the_old_one_closed(self, conversation):
        app, channel, account = conversation
        ticket = self._ticket(conversation)
        closed = PipelineStatus.objects.get(pipeline=ticket.pipeline, state="CLOSED")
        ticket_set_status(ticket=ticket, status=closed)
        newer = _publish(app, channel, account, integration_thread_id="t").message
        new_status = PipelineStatus.objects.get(pipeline=ticket.pipeline, name="New")

        reopened = ticket_set_status(ticket=ticket, status=new_status)

        assert reopened.state == "OPEN"
        assert reopened.closed_at is None
        assert not Thread.objects.get(ticket=ticket).is_open
        assert Thread.objects.get(pk=newer.thread_id).is_open

    def test_a_status_of_another_pipeline_is_refused(self, conversation):
        from tickets.models import Pipeline

        ticket = self._ticket(conversation)
        other = Pipeline.objects.create(name="Other")
        status = PipelineStatus.objects.create(pipeline=other, name="S")
        with pytest.raises(ApiError):
            ticket_set_status(ticket=ticket, status=status)

    def test_required_properties_are_enforced(self, conversation):
        ticket = self._ticket(conversation)
        gated = PipelineStatus.objects.create(
            pipeline=ticket.pipeline, name="Escalated", required_properties=["priority"]
        )
        with pytest.raises(ApiError) as raised:
            ticket_set_status(ticket=ticket, status=gated)
        assert raised.value.errors[0]["in"] == "priority"
        Ticket.objects.filter(pk=ticket.pk).update(priority="HIGH")
        ticket.refresh_from_db()
        assert ticket_set_status(ticket=ticket, status=gated).status == gated


class TestMessageStatusUpdate:
    def _outgoing(self, conversation):
        app, channel, account = conversation
        return _publish(
            app,
            channel,
            account,
            direction="OUTGOING",
            senders=[sender(account.delivery_identifier_value)],
            recipients=[sender("+15550100001")],
        ).message

    def test_failed_keeps_the_reason_until_a_success(self, conversation):
        message = self._outgoing(conversation)
        message = message_status_update(message=message, status_type="FAILED", error_message="x")
        assert (message.status, message.failure_reason) == ("FAILED", "x")
        # errorMessage null: the reason is unchanged.
        message = message_status_update(message=message, status_type="FAILED", error_message=None)
        assert message.failure_reason == "x"
        message = message_status_update(message=message, status_type="SENT")
        assert (message.status, message.failure_reason) == ("SENT", "")

    def test_incoming_messages_have_no_delivery_status(self, conversation):
        app, channel, account = conversation
        message = _publish(app, channel, account).message
        with pytest.raises(Conflict):
            message_status_update(message=message, status_type="READ")

    def test_a_status_change_leaves_after_commit(
        self, conversation, django_capture_on_commit_callbacks
    ):
        message = self._outgoing(conversation)
        with django_capture_on_commit_callbacks() as callbacks:
            message_status_update(message=message, status_type="READ")
        assert len(callbacks) == 1
