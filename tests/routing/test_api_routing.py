"""Through the real stack: apps post inbound messages to the API; tickets are routed by the
account's rule, owners are notified, and offline reps get one email per ticket."""

from __future__ import annotations

import pytest
from django.core import mail

from routing.models import AssignmentDecision, Notification, RoutingRule
from tests.routing.helpers import rep, team
from tests.tickets.factories import channel_with_account, message_body, messages_url, sender
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _post(app_client, channel, account, *, thread, phone, text="Hello"):
    response = app_client.client.post(
        messages_url(channel),
        message_body(
            account, integrationThreadId=thread, text=text, senders=[sender(phone, name="Ada")]
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_inbound_messages_are_routed_round_robin_and_notify_their_owners(
    app_client, django_capture_on_commit_callbacks
):
    alice = rep("alice", online=True)
    bob = rep("bob", email="bob@example.com")  # offline
    carol = rep("carol", availability="AWAY")
    channel, account = channel_with_account(app_client.app)
    rule = RoutingRule.objects.create(
        channel_account=account,
        mode=RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS,
        auto_assign=True,
    )
    rule.users.set([alice])
    rule.teams.set([team("Support", bob, carol)])

    with django_capture_on_commit_callbacks(execute=True):
        for index in range(4):
            _post(app_client, channel, account, thread=f"t{index}", phone=f"+1555030000{index}")

    owners = list(Ticket.objects.order_by("id").values_list("owner__username", flat=True))
    assert owners == ["alice", "bob", "alice", "bob"]
    decisions = AssignmentDecision.objects.order_by("id")
    assert [d.assignee.username for d in decisions] == owners
    assert all("carol away" in d.summary for d in decisions)
    # Bob is offline: one email per ticket assigned to him; Alice online: none.
    assert sorted(email.to[0] for email in mail.outbox) == ["bob@example.com"] * 2

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _post(app_client, channel, account, thread="t1", phone="+15550300001", text="Any news?")

    assert Notification.objects.filter(user=bob, kind="NEW_MESSAGE").count() == 1
    assert len(mail.outbox) == 1
    assert "Any news?" in mail.outbox[0].body
    assert AssignmentDecision.objects.count() == 4  # an existing ticket is not routed again
