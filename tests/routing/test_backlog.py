"""The backlog (R2): tickets nobody could take are handed out oldest first as soon as a rep of
their rule becomes Available or frees capacity; availability and capacity permissions."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from routing.availability import availability_set, capacity_set
from routing.models import AssignmentDecision, RepProfile, WaitingTicket
from routing.services import backlog_drain
from tests.routing.helpers import Mode, account_with_rule, inbound, rep, team
from tickets.models import PipelineStatus, Ticket
from tickets.services import ticket_set_status

pytestmark = pytest.mark.django_db

AWAY = RepProfile.Availability.AWAY
AVAILABLE = RepProfile.Availability.AVAILABLE


def _new_tickets(account, count):
    return [Ticket.objects.get(pk=inbound(account).message.ticket_id) for _ in range(count)]


def _owners(tickets):
    return [Ticket.objects.get(pk=ticket.pk).owner_id for ticket in tickets]


def test_a_rep_coming_back_takes_the_backlog_oldest_first_up_to_capacity(
    django_capture_on_commit_callbacks,
):
    alice = rep("alice", availability=AWAY, capacity=2)
    account = account_with_rule(users=(alice,))
    tickets = _new_tickets(account, 3)
    assert _owners(tickets) == [None, None, None]
    # The waiting order is the tickets' age, not the order of the rows.
    Ticket.objects.filter(pk=tickets[2].pk).update(created_at=tickets[0].created_at)
    WaitingTicket.objects.filter(ticket=tickets[2]).update(since=tickets[0].created_at)

    with django_capture_on_commit_callbacks(execute=True):
        availability_set(user=alice, availability=AVAILABLE, set_by=alice)

    assert _owners(tickets) == [alice.pk, None, alice.pk]
    assert list(WaitingTicket.objects.values_list("ticket_id", flat=True)) == [tickets[1].pk]
    decision = AssignmentDecision.objects.filter(ticket=tickets[0]).first()
    assert decision.trigger == AssignmentDecision.Trigger.BACKLOG
    assert decision.details["triggeredByUserId"] == alice.pk
    # The decision that parked the ticket stays in its history.
    assert AssignmentDecision.objects.filter(ticket=tickets[0]).count() == 2


def test_the_backlog_follows_round_robin_among_everyone_eligible(
    django_capture_on_commit_callbacks,
):
    alice = rep("alice", availability=AWAY)
    bob = rep("bob", availability=AWAY)
    account = account_with_rule(teams=(team("Support", alice, bob),))
    tickets = _new_tickets(account, 2)
    RepProfile.objects.filter(user=bob).update(availability=AVAILABLE)

    with django_capture_on_commit_callbacks(execute=True):
        availability_set(user=alice, availability=AVAILABLE, set_by=alice)

    assert sorted(_owners(tickets)) == sorted([alice.pk, bob.pk])


def test_closing_a_ticket_below_capacity_hands_out_the_next_waiting_one(
    django_capture_on_commit_callbacks,
):
    alice = rep("alice", capacity=1)
    account = account_with_rule(users=(alice,))
    first, second, third = _new_tickets(account, 3)
    assert _owners([first, second, third]) == [alice.pk, None, None]
    closed = PipelineStatus.objects.get(pipeline=first.pipeline, state="CLOSED")

    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=first, status=closed)

    assert _owners([second, third]) == [alice.pk, None]


def test_the_backlog_of_accounts_whose_rule_does_not_include_the_rep_is_left_alone(
    django_capture_on_commit_callbacks,
):
    alice = rep("alice", availability=AWAY)
    bob = rep("bob", availability=AWAY)
    other = _new_tickets(account_with_rule(users=(bob,)), 1)
    mine = _new_tickets(account_with_rule(users=(alice,)), 1)

    with django_capture_on_commit_callbacks(execute=True):
        availability_set(user=alice, availability=AVAILABLE, set_by=alice)

    assert _owners(mine) == [alice.pk]
    assert _owners(other) == [None]


def test_stale_backlog_rows_are_dropped_and_the_drain_goes_on():
    alice = rep("alice", availability=AWAY)
    account = account_with_rule(users=(alice,))
    closed, assigned_by_hand, waiting = _new_tickets(account, 3)
    Ticket.objects.filter(pk=closed.pk).update(state="CLOSED")
    Ticket.objects.filter(pk=assigned_by_hand.pk).update(owner=rep("manual"))
    RepProfile.objects.filter(user=alice).update(availability=AVAILABLE)

    assert backlog_drain(user_id=alice.pk) == 1

    assert _owners([waiting]) == [alice.pk]
    assert not WaitingTicket.objects.exists()


def test_a_drain_stops_at_the_first_ticket_nobody_can_take_and_records_nothing_for_it():
    alice = rep("alice", availability=AWAY)
    account = account_with_rule(users=(alice,))
    _new_tickets(account, 3)

    assert backlog_drain(user_id=alice.pk) == 0

    assert WaitingTicket.objects.count() == 3
    assert AssignmentDecision.objects.count() == 3  # Only the three original decisions.


def test_a_contact_owner_ticket_waiting_on_its_fallback_goes_to_an_owner_found_since():
    alice = rep("alice", availability=AWAY)
    owner = rep("owner")
    account = account_with_rule(mode=Mode.CONTACT_OWNER, users=(alice,))
    (ticket,) = _new_tickets(account, 1)
    ticket.contact.owner = owner
    ticket.contact.save()

    assert backlog_drain(user_id=alice.pk) == 1

    assert _owners([ticket]) == [owner.pk]


def test_a_long_backlog_is_drained_in_batches(django_capture_on_commit_callbacks):
    alice = rep("alice", availability=AWAY)
    account = account_with_rule(users=(alice,))
    tickets = _new_tickets(account, 5)
    RepProfile.objects.filter(user=alice).update(availability=AVAILABLE)

    with django_capture_on_commit_callbacks(execute=True):
        assert backlog_drain(user_id=alice.pk, limit=2) == 2

    assert _owners(tickets) == [alice.pk] * 5


# --- Availability and capacity --------------------------------------------------------------


def test_a_rep_sets_their_own_availability_but_not_anothers():
    alice, bob = rep("alice"), rep("bob")

    assert availability_set(user=alice, availability=AWAY, set_by=alice).availability == AWAY
    with pytest.raises(PermissionDenied):
        availability_set(user=bob, availability=AWAY, set_by=alice)
    with pytest.raises(ValueError, match="Unknown availability"):
        availability_set(user=alice, availability="BUSY", set_by=alice)


@pytest.mark.parametrize("admin_kind", ["role", "staff", "superuser"])
def test_an_admin_sets_anyones_availability_and_capacity(admin_kind):
    admin = rep("admin", is_staff=admin_kind == "staff", is_superuser=admin_kind == "superuser")
    if admin_kind == "role":
        RepProfile.objects.filter(user=admin).update(role=RepProfile.Role.ADMIN)
    bob = rep("bob")

    assert availability_set(user=bob, availability=AWAY, set_by=admin).availability == AWAY
    assert capacity_set(user=bob, capacity=3, set_by=admin).capacity == 3


def test_a_rep_cannot_set_their_own_capacity():
    alice = rep("alice")
    with pytest.raises(PermissionDenied):
        capacity_set(user=alice, capacity=10, set_by=alice)


def test_raising_capacity_drains_the_backlog(django_capture_on_commit_callbacks):
    admin = rep("admin", is_staff=True)
    alice = rep("alice", capacity=0)
    account = account_with_rule(users=(alice,))
    tickets = _new_tickets(account, 2)

    with django_capture_on_commit_callbacks(execute=True):
        capacity_set(user=alice, capacity=1, set_by=admin)

    assert _owners(tickets) == [alice.pk, None]


def test_going_away_schedules_nothing(django_capture_on_commit_callbacks):
    alice = rep("alice")
    with django_capture_on_commit_callbacks() as callbacks:
        availability_set(user=alice, availability=AWAY, set_by=alice)
    assert callbacks == []
