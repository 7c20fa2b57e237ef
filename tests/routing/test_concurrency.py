"""Concurrent assignment against PostgreSQL: row locks on the reps' profiles, not luck, keep
capacity and round robin exact when inbound messages arrive together.

Each test starts N threads, each with its own API client and database connection, held at a
barrier so their requests overlap.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from routing.models import AssignmentDecision, RoutingRule, WaitingTicket
from tests.conftest import make_app_client
from tests.factories import default_pipeline
from tests.routing.helpers import rep
from tests.tickets.factories import channel_with_account, message_body, messages_url, sender
from tickets.models import Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race_new_tickets(count: int, users: list[Any]) -> None:
    """``count`` first messages of ``count`` conversations, posted at once."""
    default_pipeline()  # Transactional tests flush the migration's data.
    racer = make_app_client()
    channel, account = channel_with_account(racer.app)
    rule = RoutingRule.objects.create(
        channel_account=account, mode=RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS, auto_assign=True
    )
    rule.users.set(users)
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {racer.token}")
        body = message_body(
            account, integrationThreadId=f"race-{index}", senders=[sender(f"+155504000{index:02d}")]
        )
        try:
            barrier.wait(timeout=30)
            statuses.append(client.post(messages_url(channel), body, format="json").status_code)
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert statuses == [201] * count


def test_concurrent_tickets_never_exceed_a_reps_capacity():
    one = rep("one", capacity=1)
    other = rep("other", capacity=1)
    two = rep("two", capacity=2)

    _race_new_tickets(8, [one, other, two])

    owned = {user.username: Ticket.objects.filter(owner=user).count() for user in (one, other, two)}
    assert owned == {"one": 1, "other": 1, "two": 2}
    assert Ticket.objects.filter(owner__isnull=True).count() == 4
    assert WaitingTicket.objects.count() == 4
    assert AssignmentDecision.objects.count() == 8
    assert AssignmentDecision.objects.filter(outcome="WAITING").count() == 4


def test_concurrent_tickets_keep_round_robin_exact():
    reps = [rep(f"rep{index}") for index in range(3)]

    _race_new_tickets(9, reps)

    owners = list(Ticket.objects.order_by("assigned_at").values_list("owner_id", flat=True))
    # Serialised on the profiles' locks, each assignment sees the previous one: a clean cycle.
    assert owners == [user.pk for user in reps] * 3
