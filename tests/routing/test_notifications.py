"""Notifications (I9): in-app rows for assignments, new messages and unassigned team tickets;
per-kind switches; email for offline reps, batched one per ticket, after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from routing.models import Notification, NotificationKind, NotificationPreference, RepProfile
from routing.notifications import (
    notification_email_send,
    notification_emails_send_due,
    notification_mark_read,
    notification_preferences_set,
)
from routing.selectors import (
    notification_list_for_user,
    notification_preferences_for_user,
    notification_unread_count,
)
from tests.routing.helpers import account_with_rule, inbound, rep, team

pytestmark = pytest.mark.django_db

ASSIGNED = NotificationKind.TICKET_ASSIGNED
NEW_MESSAGE = NotificationKind.NEW_MESSAGE
TEAM = NotificationKind.TEAM_TICKET_UNASSIGNED


@pytest.fixture
def batching(settings):
    """A 30-second batching window with its periodic sender scheduled."""
    settings.ROUTING_NOTIFICATION_EMAIL_BATCH_SECONDS = 30
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        "routing-emails": {"task": "routing.notification_emails_send_due", "schedule": 15},
    }


def _conversation(account, count, **kwargs):
    first = inbound(account, thread="conversation", **kwargs)
    phone = first.message.senders[0]["deliveryIdentifier"]["value"]
    return [first] + [
        inbound(account, thread="conversation", phone=phone, text=f"Follow-up {index}", **kwargs)
        for index in range(1, count)
    ]


def test_an_assignment_notifies_the_rep_in_app():
    alice = rep("alice", online=True)
    account = account_with_rule(users=(alice,))

    ticket_id = inbound(account, name="Grace").message.ticket_id

    notification = notification_list_for_user(user=alice).get()
    assert notification.kind == ASSIGNED
    assert notification.ticket_id == ticket_id
    assert notification.text.endswith("from Grace was assigned to you.")
    assert notification.read_at is None
    assert notification.email_status == Notification.EmailStatus.NONE


def test_a_new_message_notifies_the_owner_but_not_others():
    alice = rep("alice", online=True)
    bob = rep("bob", online=True)
    account = account_with_rule(users=(alice,), teams=(team("Support", bob),))

    _conversation(account, 3)

    kinds = list(Notification.objects.filter(user=alice).values_list("kind", flat=True))
    assert sorted(kinds) == sorted([ASSIGNED, NEW_MESSAGE, NEW_MESSAGE])
    assert not Notification.objects.filter(user=bob).exists()


def test_a_message_on_an_unassigned_ticket_notifies_nobody():
    account = account_with_rule()

    _conversation(account, 2)

    assert not Notification.objects.exists()


def test_a_new_unassigned_ticket_notifies_the_members_of_the_rules_teams():
    member = rep("member", availability=RepProfile.Availability.AWAY, online=True)
    other = rep("other", online=True)
    account = account_with_rule(
        teams=(team("Support", member),), users=(rep("away", availability="AWAY"),)
    )
    team("Sales", other)

    ticket_id = inbound(account).message.ticket_id

    notification = Notification.objects.get()
    assert (notification.user_id, notification.kind, notification.ticket_id) == (
        member.pk,
        TEAM,
        ticket_id,
    )
    assert "for Support" in notification.text


def test_switched_off_kinds_are_neither_stored_nor_emailed(django_capture_on_commit_callbacks):
    alice = rep("alice")  # offline: would get email
    notification_preferences_set(user=alice, enabled={ASSIGNED: False})
    account = account_with_rule(users=(alice,))

    with django_capture_on_commit_callbacks(execute=True):
        _conversation(account, 2)

    assert list(Notification.objects.values_list("kind", flat=True)) == [NEW_MESSAGE]
    assert len(mail.outbox) == 1
    assert "New message" in mail.outbox[0].subject


def test_preferences_default_on_and_are_saved_per_kind():
    alice = rep("alice")
    assert notification_preferences_for_user(user=alice) == dict.fromkeys(
        NotificationKind.values, True
    )

    saved = notification_preferences_set(user=alice, enabled={NEW_MESSAGE: False, TEAM: True})

    assert saved == {ASSIGNED: True, NEW_MESSAGE: False, TEAM: True}
    assert NotificationPreference.objects.filter(user=alice).count() == 2
    with pytest.raises(ValueError, match="Unknown"):
        notification_preferences_set(user=alice, enabled={"MENTION": True})


def test_notifications_are_marked_read():
    alice = rep("alice", online=True)
    account = account_with_rule(users=(alice,))
    _conversation(account, 3)
    first = Notification.objects.order_by("id").first()

    assert notification_unread_count(user=alice) == 3
    assert notification_mark_read(user=alice, notification_ids=[first.pk]) == 1
    assert notification_unread_count(user=alice) == 2
    assert notification_mark_read(user=alice) == 2
    assert notification_list_for_user(user=alice, unread_only=True).count() == 0


# --- Email ----------------------------------------------------------------------------------


def test_an_online_rep_gets_no_email(django_capture_on_commit_callbacks):
    alice = rep("alice", online=True)
    account = account_with_rule(users=(alice,))

    with django_capture_on_commit_callbacks(execute=True):
        _conversation(account, 2)

    assert mail.outbox == []


def test_a_rep_connected_to_the_inbox_counts_as_online(django_capture_on_commit_callbacks):
    alice = rep("alice")
    RepProfile.objects.filter(user=alice).update(
        live_connections=1, last_seen_at=timezone.now() - timedelta(minutes=5)
    )
    account = account_with_rule(users=(alice,))

    with django_capture_on_commit_callbacks(execute=True):
        inbound(account)

    assert mail.outbox == []


def test_nothing_is_emailed_before_commit(django_capture_on_commit_callbacks):
    alice = rep("alice")
    account = account_with_rule(users=(alice,))

    with django_capture_on_commit_callbacks() as callbacks:
        inbound(account)
        assert mail.outbox == []

    assert mail.outbox == []
    assert callbacks
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1


def test_a_burst_inside_one_transaction_is_one_email_per_ticket(
    django_capture_on_commit_callbacks,
):
    alice = rep("alice", email="alice@example.com")
    account = account_with_rule(users=(alice,))

    with django_capture_on_commit_callbacks(execute=True):
        _conversation(account, 4)  # one ticket, four messages
        inbound(account)  # a second ticket

    assert len(mail.outbox) == 2
    first = next(email for email in mail.outbox if "4 updates" in email.subject)
    for text in ("Hello, my order has not arrived", "Follow-up 1", "Follow-up 2", "Follow-up 3"):
        assert text in first.body
    assert set(Notification.objects.values_list("email_status", flat=True)) == {"SENT"}


def test_a_burst_over_several_requests_is_one_email_per_batching_window(
    batching, django_capture_on_commit_callbacks
):
    alice = rep("alice")
    account = account_with_rule(users=(alice,))

    for index in range(3):  # three requests, each committing on its own
        with django_capture_on_commit_callbacks(execute=True):
            if index == 0:
                first = inbound(account, thread="conversation")
                phone = first.message.senders[0]["deliveryIdentifier"]["value"]
            else:
                inbound(account, thread="conversation", phone=phone, text=f"Follow-up {index}")

    assert mail.outbox == []  # held for the window
    assert notification_emails_send_due() == 0  # not due yet
    assert notification_emails_send_due(now=timezone.now() + timedelta(seconds=31)) == 1
    assert len(mail.outbox) == 1
    assert "3 updates" in mail.outbox[0].subject
    assert "Follow-up 2" in mail.outbox[0].body
    # A later message starts a new window and a new email.
    with django_capture_on_commit_callbacks(execute=True):
        inbound(account, thread="conversation", phone=phone, text="Anyone there?")
    assert notification_emails_send_due(now=timezone.now() + timedelta(seconds=31)) == 1
    assert len(mail.outbox) == 2


def test_a_rep_back_online_before_the_email_leaves_gets_none(batching):
    alice = rep("alice")
    account = account_with_rule(users=(alice,))
    ticket_id = inbound(account).message.ticket_id
    RepProfile.objects.filter(user=alice).update(
        last_seen_at=timezone.now() + timedelta(seconds=31)
    )

    sent = notification_email_send(
        user_id=alice.pk, ticket_id=ticket_id, now=timezone.now() + timedelta(seconds=31)
    )

    assert sent is False
    assert mail.outbox == []
    assert Notification.objects.get().email_status == Notification.EmailStatus.SKIPPED


def test_sending_twice_sends_once(django_capture_on_commit_callbacks):
    alice = rep("alice")
    account = account_with_rule(users=(alice,))
    with django_capture_on_commit_callbacks(execute=True):
        ticket_id = inbound(account).message.ticket_id

    assert notification_email_send(user_id=alice.pk, ticket_id=ticket_id) is False
    assert len(mail.outbox) == 1


def test_a_rep_without_an_email_address_gets_in_app_only(django_capture_on_commit_callbacks):
    alice = rep("alice", email="")
    account = account_with_rule(users=(alice,))

    with django_capture_on_commit_callbacks(execute=True):
        inbound(account)

    assert mail.outbox == []
    assert Notification.objects.get().email_status == Notification.EmailStatus.NONE


def test_without_the_periodic_sender_the_window_is_zero(
    settings, django_capture_on_commit_callbacks
):
    settings.ROUTING_NOTIFICATION_EMAIL_BATCH_SECONDS = 30  # but nothing would send later
    alice = rep("alice")
    account = account_with_rule(users=(alice,))

    with django_capture_on_commit_callbacks(execute=True):
        inbound(account)

    assert len(mail.outbox) == 1
