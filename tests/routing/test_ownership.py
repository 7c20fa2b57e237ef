"""Reassigning by hand (SPEC I4, ``routing.ownership.ticket_owner_set``): the owner changes
under a lock, the decision says who did it, the new owner is notified after commit, open
inboxes get a live event, and the backlog lets go of a ticket someone took."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from routing.models import AssignmentDecision, Notification, WaitingTicket
from routing.ownership import OwnerRefused, ticket_owner_set
from tests.routing.helpers import Mode, account_with_rule, inbound, rep
from tickets.models import LiveEvent, Ticket

pytestmark = pytest.mark.django_db


def _ticket(**rule: Any) -> Ticket:
    account = account_with_rule(mode=Mode.NONE, **rule)
    return Ticket.objects.get(pk=inbound(account).message.ticket_id)


def _manual(ticket: Ticket) -> list[AssignmentDecision]:
    return list(AssignmentDecision.objects.filter(ticket=ticket, trigger="MANUAL").order_by("id"))


def test_reassigning_records_who_did_it_and_notifies_the_new_owner_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    grace = rep("grace", first_name="Grace", online=True)
    alan = rep("alan", first_name="Alan", online=True)
    linus = rep("linus", first_name="Linus", email="linus@example.com")  # offline: emailed
    ticket = _ticket()
    ticket_owner_set(ticket=ticket, owner=alan, by=grace)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        changed = ticket_owner_set(ticket=ticket, owner=linus, by=grace)
    assert mail.outbox == []
    for callback in callbacks:
        callback()

    ticket.refresh_from_db()
    assert changed.owner_id == ticket.owner_id == linus.pk
    assert ticket.assigned_at is not None
    [first, second] = _manual(ticket)
    assert first.summary == "Assigned to Alan by Grace."
    assert second.summary == "Reassigned by Grace from Alan to Linus."
    assert (second.outcome, second.assignee_id) == ("ASSIGNED", linus.pk)
    assert second.details == {"triggeredByUserId": grace.pk, "previousOwnerId": alan.pk}
    notification = Notification.objects.get(user=linus)
    assert notification.kind == "TICKET_ASSIGNED"
    assert notification.text == f'Ticket #{ticket.pk} "{ticket.name}" was assigned to you by Grace.'
    assert [email.to for email in mail.outbox] == [["linus@example.com"]]
    event = LiveEvent.objects.filter(ticket_id=ticket.pk, kind="ticket.assigned").last()
    assert (event.owner_id, event.data) == (linus.pk, {"trigger": "MANUAL"})


def test_the_same_owner_again_changes_and_records_nothing() -> None:
    grace = rep("grace")
    ticket = _ticket()
    ticket_owner_set(ticket=ticket, owner=grace, by=grace)
    ticket_owner_set(ticket=ticket, owner=grace, by=grace)
    assert len(_manual(ticket)) == 1
    ticket_owner_set(ticket=ticket, owner=None, by=grace)
    ticket_owner_set(ticket=ticket, owner=None, by=grace)
    assert len(_manual(ticket)) == 2


def test_taking_a_ticket_yourself_notifies_nobody() -> None:
    grace = rep("grace")
    ticket = _ticket()
    ticket_owner_set(ticket=ticket, owner=grace, by=grace)
    assert not Notification.objects.filter(kind="TICKET_ASSIGNED").exists()


def test_unassigning_says_who_and_from_whom(django_capture_on_commit_callbacks: Any) -> None:
    grace = rep("grace", first_name="Grace")
    alan = rep("alan", first_name="Alan")
    ticket = _ticket()
    ticket_owner_set(ticket=ticket, owner=alan, by=grace)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket_owner_set(ticket=ticket, owner=None, by=grace)
    ticket.refresh_from_db()
    assert (ticket.owner_id, ticket.assigned_at) == (None, None)
    decision = _manual(ticket)[-1]
    assert (decision.outcome, decision.summary) == ("UNASSIGNED", "Unassigned by Grace (was Alan).")
    # Alan freed capacity: his backlog is drained once this commits.
    assert any("backlog_drain" in repr(callback) for callback in callbacks)


def test_unassigning_from_a_deactivated_rep_drains_nobodys_backlog(
    django_capture_on_commit_callbacks: Any,
) -> None:
    grace = rep("grace")
    alan = rep("alan")
    ticket = _ticket()
    ticket_owner_set(ticket=ticket, owner=alan, by=grace)
    type(alan).objects.filter(pk=alan.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket_owner_set(ticket=ticket, owner=None, by=grace)
    drains = [callback.args for callback in callbacks if "backlog_drain" in repr(callback)]
    assert drains == []
    assert Ticket.objects.get(pk=ticket.pk).owner_id is None


def test_a_deactivated_rep_cannot_own_tickets() -> None:
    grace = rep("grace")
    gone = rep("gone", is_active=False)
    ticket = _ticket()
    with pytest.raises(OwnerRefused, match="deactivated"):
        ticket_owner_set(ticket=ticket, owner=gone, by=grace)
    ticket.refresh_from_db()
    assert ticket.owner_id is None
    assert _manual(ticket) == []


def test_a_waiting_ticket_leaves_the_backlog_when_someone_takes_it() -> None:
    away = rep("away", availability="AWAY")
    grace = rep("grace")
    account = account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(away,))
    ticket = Ticket.objects.get(pk=inbound(account).message.ticket_id)
    assert WaitingTicket.objects.filter(ticket=ticket).exists()
    ticket_owner_set(ticket=ticket, owner=grace, by=grace)
    assert not WaitingTicket.objects.filter(ticket=ticket).exists()


def test_reassigning_costs_a_fixed_number_of_queries(django_assert_num_queries: Any) -> None:
    grace = rep("grace", online=True)
    alan = rep("alan", online=True, last_assigned_at=timezone.now() - timedelta(hours=1))
    ticket = _ticket()
    ticket_owner_set(ticket=ticket, owner=alan, by=grace)
    # Savepoint; backlog row and ticket locked; the previous owner; the update; the decision;
    # the notification's preferences, recipients and row, and its live event; the assignment's
    # live event; release.
    with django_assert_num_queries(12):
        ticket_owner_set(ticket=ticket, owner=grace, by=alan)
