"""Choosing a ticket's owner by hand (SPEC I4, the inbox's "Ticket owner" menu).

``ticket_owner_set`` is the one way a rep or admin reassigns a ticket: it records the choice as
an ``AssignmentDecision`` (trigger MANUAL), so the ticket's routing explanation reads "Reassigned
by X" after the automatic decisions; notifies the new owner; and tells open inboxes. Automatic
assignment is ``routing.services.ticket_route``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from helpdesk.users import user_display_name
from routing.models import AssignmentDecision, NotificationKind, WaitingTicket
from routing.notifications import notification_create
from routing.services import backlog_drain_schedule
from tickets.live import live_event_publish
from tickets.models import LiveEvent, Ticket, TicketState


class OwnerRefused(ValueError):
    """The chosen owner cannot own tickets (unknown or deactivated user)."""


def _who(user: Any | None) -> str:
    return "nobody" if user is None else user_display_name(user)


@transaction.atomic
def ticket_owner_set(*, ticket: Ticket, owner: Any | None, by: Any) -> Ticket:
    """Makes ``owner`` (a user, or None for unassigned) the owner of ``ticket``; ``by`` chose.

    Locks, in the routing lock order: the ticket's backlog row, then the ticket. The same owner
    again changes nothing and records nothing. Otherwise: the ticket's owner and ``assigned_at``
    change; a ticket waiting in the backlog leaves it once someone owns it; an
    ``AssignmentDecision`` (trigger MANUAL) says who reassigned it from whom to whom; the new
    owner is notified (``TICKET_ASSIGNED``; not when reps take a ticket themselves); the
    previous owner of an open ticket freed capacity, so their backlog is drained after commit;
    a ``ticket.assigned`` live event leaves after commit.

    Raises ``OwnerRefused`` for a deactivated owner.
    """
    if owner is not None and not owner.is_active:
        raise OwnerRefused(f"{_who(owner)} is deactivated and cannot own tickets.")
    waiting = WaitingTicket.objects.select_for_update().filter(ticket_id=ticket.pk).first()
    locked = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
    owner_id = owner.pk if owner is not None else None
    if locked.owner_id == owner_id:
        return locked
    previous_id = locked.owner_id
    previous = get_user_model().objects.filter(pk=previous_id).first() if previous_id else None

    now = timezone.now()
    locked.owner_id = owner_id
    locked.assigned_at = now if owner_id is not None else None
    locked.save(update_fields=["owner", "assigned_at", "updated_at"])
    if waiting is not None and owner_id is not None:
        waiting.delete()
    if previous is not None and previous.is_active and locked.state == TicketState.OPEN:
        # The previous owner freed capacity (a deactivated one takes nothing more).
        backlog_drain_schedule(user_id=previous.pk)

    by_name = _who(by)
    if owner is None:
        summary = f"Unassigned by {by_name} (was {_who(previous)})."
    elif previous is None:
        summary = f"Assigned to {_who(owner)} by {by_name}."
    else:
        summary = f"Reassigned by {by_name} from {_who(previous)} to {_who(owner)}."
    AssignmentDecision.objects.create(
        ticket=locked,
        trigger=AssignmentDecision.Trigger.MANUAL,
        outcome=(
            AssignmentDecision.Outcome.ASSIGNED
            if owner is not None
            else AssignmentDecision.Outcome.UNASSIGNED
        ),
        assignee_id=owner_id,
        details={"triggeredByUserId": by.pk, "previousOwnerId": previous_id},
        summary=summary,
    )
    if owner is not None and owner.pk != by.pk:
        notification_create(
            kind=NotificationKind.TICKET_ASSIGNED,
            user_ids=[owner.pk],
            ticket=locked,
            text=f'Ticket #{locked.pk} "{locked.name}" was assigned to you by {by_name}.',
        )
    _live_event(locked, trigger=AssignmentDecision.Trigger.MANUAL)
    return locked


def ticket_take_by_reply(*, ticket: Ticket, author: Any, now: datetime) -> AssignmentDecision:
    """Makes an unassigned ``ticket`` the property of ``author``, who replied to it: its owner
    and ``assigned_at`` (saved by the caller, with the rest of the reply's changes), it leaves
    the backlog, and the decision and a ``ticket.assigned`` live event say so. The caller holds
    the ticket's locks (``tickets.services.ticket_lock``). Nobody is notified: reps took it
    themselves."""
    ticket.owner_id = author.pk
    ticket.assigned_at = now
    WaitingTicket.objects.filter(ticket_id=ticket.pk).delete()
    decision = AssignmentDecision.objects.create(
        ticket=ticket,
        trigger=AssignmentDecision.Trigger.MANUAL,
        outcome=AssignmentDecision.Outcome.ASSIGNED,
        assignee_id=author.pk,
        details={"triggeredByUserId": author.pk, "previousOwnerId": None, "byReply": True},
        summary=f"Taken by {_who(author)}, who replied while it was unassigned.",
    )
    _live_event(ticket, trigger="REPLY")
    return decision


def _live_event(ticket: Ticket, *, trigger: str) -> None:
    """``ticket.assigned`` for open inboxes, after commit (``ownerId`` is the new owner)."""
    live_event_publish(
        kind=LiveEvent.Kind.TICKET_ASSIGNED, ticket=ticket, data={"trigger": trigger}
    )
