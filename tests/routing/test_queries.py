"""One assignment costs a fixed number of queries, whatever the number of reps and tickets."""

from __future__ import annotations

import pytest

from routing.models import AssignmentDecision, RepProfile, RoutingRule
from routing.services import ticket_route
from tests.routing.helpers import Mode, account_with_rule, inbound, rep, team
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

# Called as message_publish_inbound calls it, with the rule and the message to quote: the chosen
# teams, the candidates, their profiles (locked), their open tickets; the ticket's owner, the
# rep's last assignment, its live event (ticket.assigned), the decision; the notification's
# preferences, recipient, row and live event.
ASSIGNMENT_QUERIES = 12


def _scene(reps: int, tickets: int) -> tuple[Ticket, RoutingRule, Message, list]:
    """``reps`` reps (half chosen directly, half through a team, some with a capacity) owning
    ``tickets`` open tickets, and a new ticket not routed yet."""
    users = [rep(capacity=100 if index % 2 else None) for index in range(reps)]
    direct, members = users[: reps // 2], users[reps // 2 :]
    account = account_with_rule(mode=Mode.NONE)
    for index in range(tickets):
        owned = inbound(account).message.ticket_id
        Ticket.objects.filter(pk=owned).update(owner=users[index % reps])
    rule = RoutingRule.objects.get(channel_account=account)
    rule.mode = Mode.SPECIFIC_USERS_AND_TEAMS
    rule.auto_assign = True
    rule.save()
    rule.users.set(direct)
    rule.teams.set([team(f"Team of {reps}", *members)])
    message = inbound(account).message
    AssignmentDecision.objects.all().delete()
    ticket = Ticket.objects.select_related("contact").get(pk=message.ticket_id)
    return ticket, rule, message, users


@pytest.mark.parametrize(("reps", "tickets"), [(2, 1), (20, 50)])
def test_one_assignment_makes_a_fixed_number_of_queries(reps, tickets, django_assert_num_queries):
    ticket, rule, message, users = _scene(reps, tickets)

    with django_assert_num_queries(ASSIGNMENT_QUERIES):
        ticket_route(ticket=ticket, rule=rule, message=message)

    ticket.refresh_from_db()
    assert ticket.owner_id in {user.pk for user in users}
    assert len(AssignmentDecision.objects.get().candidates) == reps


# The same reads; then the backlog row, the decision, and the team's notifications (their
# preferences, recipients, rows and live events, in bulk).
WAITING_QUERIES = 10


@pytest.mark.parametrize(("reps", "tickets"), [(2, 1), (20, 50)])
def test_a_ticket_nobody_can_take_costs_a_fixed_number_of_queries_too(
    reps, tickets, django_assert_num_queries
):
    ticket, rule, message, users = _scene(reps, tickets)
    RepProfile.objects.filter(user__in=users).update(availability="AWAY")

    with django_assert_num_queries(WAITING_QUERIES):
        ticket_route(ticket=ticket, rule=rule, message=message)

    assert AssignmentDecision.objects.get().outcome == "WAITING"
