"""Assignment by routing rule (R1-R4): each mode, round robin, skips, teams, contact owner, and
the explanation stored with every decision."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from routing.models import AssignmentDecision, RepProfile, WaitingTicket
from routing.selectors import assignment_decision_list_for_ticket
from tests.factories import ContactFactory
from tests.routing.helpers import Mode, account_with_rule, inbound, rep, team
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

AWAY = RepProfile.Availability.AWAY


def _decision(ticket: Ticket) -> AssignmentDecision:
    return assignment_decision_list_for_ticket(ticket_id=ticket.pk).get()


def _ticket(result) -> Ticket:
    return Ticket.objects.get(pk=result.message.ticket_id)


def _by_name(decision: AssignmentDecision) -> dict[str, dict]:
    return {entry["name"]: entry for entry in decision.candidates}


# --- None, auto-assign off, no rule ---------------------------------------------------------


def test_mode_none_leaves_the_ticket_unassigned_and_says_why():
    alice = rep("alice")
    account = account_with_rule(mode=Mode.NONE, users=(alice,))

    ticket = _ticket(inbound(account))

    assert ticket.owner_id is None
    decision = _decision(ticket)
    assert decision.outcome == AssignmentDecision.Outcome.UNASSIGNED
    assert "None" in decision.summary
    assert not WaitingTicket.objects.exists()


@pytest.mark.parametrize("mode", [Mode.SPECIFIC_USERS_AND_TEAMS, Mode.CONTACT_OWNER])
def test_auto_assign_off_assigns_nobody_whatever_the_mode(mode):
    alice = rep("alice")
    account = account_with_rule(mode=mode, users=(alice,), auto_assign=False)
    contact = ContactFactory(owner=alice)

    ticket = _ticket(inbound(account, contact_id=contact.pk))

    assert ticket.owner_id is None
    assert "off" in _decision(ticket).summary
    assert not WaitingTicket.objects.exists()


def test_an_account_without_a_rule_leaves_tickets_unassigned():
    account = account_with_rule()
    account.routing_rule.delete()

    ticket = _ticket(inbound(account))

    assert ticket.owner_id is None
    assert "no routing rule" in _decision(ticket).summary


# --- Specific users and teams ---------------------------------------------------------------


def test_round_robin_goes_in_order_of_oldest_assignment_over_many_tickets():
    now = timezone.now()
    # Carol was assigned longest ago, then Alice; Bob never: Bob, Carol, Alice, then around.
    alice = rep("alice", last_assigned_at=now - timedelta(hours=1))
    bob = rep("bob")
    carol = rep("carol", last_assigned_at=now - timedelta(hours=2))
    account = account_with_rule(users=(alice, bob, carol))

    owners = [_ticket(inbound(account)).owner_id for _ in range(10)]

    order = [bob.pk, carol.pk, alice.pk]
    assert owners == [order[index % 3] for index in range(10)]
    assert Ticket.objects.filter(owner=bob).count() == 4
    bob_profile = RepProfile.objects.get(user=bob)
    assert bob_profile.last_assigned_at == Ticket.objects.filter(owner=bob).latest("id").assigned_at


def test_ties_are_broken_by_user_id_so_routing_is_deterministic():
    reps = [rep() for _ in range(3)]
    account = account_with_rule(users=tuple(reversed(reps)))

    owner = _ticket(inbound(account)).owner_id

    assert owner == min(user.pk for user in reps)


def test_away_and_at_capacity_reps_are_skipped_with_their_reason():
    away = rep("away", availability=AWAY)
    full = rep("full", capacity=1)
    free = rep("free", capacity=5)
    account = account_with_rule(users=(away, full, free))
    # "full" already has one open ticket from an earlier conversation.
    first = _ticket(inbound(account))
    Ticket.objects.filter(pk=first.pk).update(owner=full)

    ticket = _ticket(inbound(account))

    assert ticket.owner_id == free.pk
    candidates = _by_name(_decision(ticket))
    assert candidates["away"]["reason"] == "away"
    assert (
        candidates["full"] | {"reason": "at_capacity", "openTickets": 1, "capacity": 1}
        == (candidates["full"])
    )
    assert candidates["free"]["chosen"] is True
    assert candidates["free"]["eligible"] is True
    summary = _decision(ticket).summary
    assert "Assigned to free" in summary
    assert "away away" in summary
    assert "full at capacity (1/1)" in summary


def test_capacity_counts_open_tickets_only():
    limited = rep("limited", capacity=1)
    account = account_with_rule(users=(limited,))
    first = _ticket(inbound(account))
    assert first.owner_id == limited.pk
    Ticket.objects.filter(pk=first.pk).update(state="CLOSED")

    assert _ticket(inbound(account)).owner_id == limited.pk


def test_team_members_are_candidates_and_non_members_are_not():
    member = rep("member")
    other_member = rep("other_member")
    outsider = rep("outsider")
    support = team("Support", member, other_member)
    team("Sales", outsider)
    account = account_with_rule(teams=(support,))

    owners = {_ticket(inbound(account)).owner_id for _ in range(4)}

    assert owners == {member.pk, other_member.pk}
    decision = AssignmentDecision.objects.first()
    assert {entry["name"] for entry in decision.candidates} == {"member", "other_member"}
    assert decision.candidates[0]["via"] == ["team:Support"]
    assert decision.details["teams"] == [
        {"id": support.pk, "name": "Support", "memberIds": [member.pk, other_member.pk]}
    ]


def test_a_rep_chosen_directly_and_through_a_team_is_one_candidate():
    both = rep("both")
    account = account_with_rule(users=(both,), teams=(team("Support", both),))

    ticket = _ticket(inbound(account))

    assert ticket.owner_id == both.pk
    assert _decision(ticket).candidates[0]["via"] == ["user", "team:Support"]


def test_a_rep_without_a_profile_gets_one_and_is_eligible():
    fresh = rep("fresh", profile=False)
    account = account_with_rule(users=(fresh,))

    assert _ticket(inbound(account)).owner_id == fresh.pk
    profile = RepProfile.objects.get(user=fresh)
    assert profile.availability == RepProfile.Availability.AVAILABLE
    assert profile.capacity is None


def test_a_deactivated_user_is_skipped():
    gone = rep("gone", is_active=False)
    here = rep("here")
    account = account_with_rule(users=(gone, here))

    ticket = _ticket(inbound(account))

    assert ticket.owner_id == here.pk
    assert _by_name(_decision(ticket))["gone"]["reason"] == "inactive"


def test_nobody_eligible_leaves_the_ticket_waiting_and_explains_each_skip():
    away = rep("away", availability=AWAY)
    full = rep("full", capacity=0)
    account = account_with_rule(users=(away, full))

    ticket = _ticket(inbound(account))

    assert ticket.owner_id is None
    decision = _decision(ticket)
    assert decision.outcome == AssignmentDecision.Outcome.WAITING
    assert decision.assignee is None
    assert [entry["reason"] for entry in decision.candidates] == ["away", "at_capacity"]
    assert "Nobody was eligible (away away; full at capacity (0/0))" in decision.summary
    assert WaitingTicket.objects.get().ticket_id == ticket.pk


def test_a_rule_naming_nobody_leaves_the_ticket_unassigned_not_waiting():
    account = account_with_rule()

    ticket = _ticket(inbound(account))

    assert _decision(ticket).outcome == AssignmentDecision.Outcome.UNASSIGNED
    assert not WaitingTicket.objects.exists()


def test_a_message_on_an_existing_ticket_does_not_route_it_again():
    alice, bob = rep("alice"), rep("bob")
    account = account_with_rule(users=(alice, bob))
    first = inbound(account, thread="conversation")

    inbound(
        account,
        thread="conversation",
        phone=first.message.senders[0]["deliveryIdentifier"]["value"],
    )

    assert Ticket.objects.get().owner_id == alice.pk
    assert AssignmentDecision.objects.count() == 1


# --- Contact owner --------------------------------------------------------------------------


def _owner_email_sent(django_capture_on_commit_callbacks, account, contact, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return _ticket(inbound(account, contact_id=contact.pk, **kwargs))


def test_an_online_contact_owner_gets_the_ticket_and_no_email(django_capture_on_commit_callbacks):
    owner = rep("owner", online=True)
    contact = ContactFactory(owner=owner)
    account = account_with_rule(mode=Mode.CONTACT_OWNER)

    ticket = _owner_email_sent(django_capture_on_commit_callbacks, account, contact)

    assert ticket.owner_id == owner.pk
    assert mail.outbox == []
    decision = _decision(ticket)
    assert decision.details["contactOwner"] == {"userId": owner.pk, "name": "owner", "online": True}
    assert "(online)" in decision.summary


def test_an_offline_contact_owner_gets_the_ticket_and_one_email_with_the_message(
    django_capture_on_commit_callbacks, settings
):
    settings.PUBLIC_BASE_URL = "https://desk.example.com"
    owner = rep("owner", email="owner@example.com")
    contact = ContactFactory(owner=owner)
    account = account_with_rule(mode=Mode.CONTACT_OWNER)

    ticket = _owner_email_sent(
        django_capture_on_commit_callbacks,
        account,
        contact,
        text="My parcel is lost",
        name="Grace Hopper",
    )

    assert ticket.owner_id == owner.pk
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["owner@example.com"]
    assert "was assigned to you" in email.subject
    assert "From: Grace Hopper" in email.body
    assert "My parcel is lost" in email.body
    assert f"https://desk.example.com/inbox/tickets/{ticket.pk}/" in email.body
    assert "offline" in _decision(ticket).summary


def test_the_contact_owner_gets_the_ticket_even_when_away_or_full():
    owner = rep("owner", availability=AWAY, capacity=0)
    account = account_with_rule(mode=Mode.CONTACT_OWNER, users=(rep("fallback"),))

    ticket = _ticket(inbound(account, contact_id=ContactFactory(owner=owner).pk))

    assert ticket.owner_id == owner.pk
    assert RepProfile.objects.get(user=owner).last_assigned_at == ticket.assigned_at


def test_no_owner_falls_back_to_the_specific_users_and_teams():
    fallback = rep("fallback")
    account = account_with_rule(mode=Mode.CONTACT_OWNER, teams=(team("Support", fallback),))

    ticket = _ticket(inbound(account, contact_id=ContactFactory().pk))

    assert ticket.owner_id == fallback.pk
    decision = _decision(ticket)
    assert decision.details["fallback"] is True
    assert decision.summary.startswith("No contact owner; falling back")


def test_no_owner_and_no_fallback_leaves_the_ticket_unassigned():
    account = account_with_rule(mode=Mode.CONTACT_OWNER)

    ticket = _ticket(inbound(account, contact_id=ContactFactory().pk))

    assert ticket.owner_id is None
    decision = _decision(ticket)
    assert decision.outcome == AssignmentDecision.Outcome.UNASSIGNED
    assert "no owner" in decision.summary
    assert not WaitingTicket.objects.exists()


def test_no_owner_with_a_fallback_nobody_can_take_waits_in_the_backlog():
    account = account_with_rule(mode=Mode.CONTACT_OWNER, users=(rep("away", availability=AWAY),))

    ticket = _ticket(inbound(account, contact_id=ContactFactory().pk))

    assert ticket.owner_id is None
    assert _decision(ticket).outcome == AssignmentDecision.Outcome.WAITING
    assert WaitingTicket.objects.filter(ticket=ticket).exists()


def test_a_deactivated_owner_counts_as_no_owner():
    owner = rep("owner", is_active=False)
    fallback = rep("fallback")
    account = account_with_rule(mode=Mode.CONTACT_OWNER, users=(fallback,))

    ticket = _ticket(inbound(account, contact_id=ContactFactory(owner=owner).pk))

    assert ticket.owner_id == fallback.pk
    decision = _decision(ticket)
    assert decision.summary.startswith("The contact owner owner is deactivated.")
    assert _by_name(decision)["owner"]["reason"] == "inactive"


# --- Explanations ---------------------------------------------------------------------------


def test_every_new_ticket_gets_exactly_one_explained_decision():
    alice = rep("alice", capacity=2)
    account = account_with_rule(users=(alice,))

    tickets = [_ticket(inbound(account)) for _ in range(4)]

    outcomes = [_decision(ticket).outcome for ticket in tickets]
    assert outcomes == ["ASSIGNED", "ASSIGNED", "WAITING", "WAITING"]
    for ticket in tickets:
        decision = _decision(ticket)
        assert decision.summary
        assert decision.trigger == AssignmentDecision.Trigger.NEW_TICKET
        entry = decision.candidates[0]
        assert set(entry) == {
            "userId",
            "name",
            "via",
            "availability",
            "capacity",
            "openTickets",
            "online",
            "lastAssignedAt",
            "eligible",
            "reason",
            "chosen",
        }
