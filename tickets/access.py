"""Fetching tickets and messages a rep reaches from a URL, with the permission check.

Every signed-in, active user works the inbox (reps and admins alike: SPEC's help desk has no
per-ticket permissions), so the check is that; a missing ticket, or a message of another
ticket, is the same 404.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404

from tickets.models import Message, Ticket
from tickets.selectors import message_get_for_conversation, ticket_get_for_conversation


def _check_rep(user: Any) -> None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Http404("No such ticket.")


def access_ticket_by_id(*, user: Any, ticket_id: int) -> Ticket:
    """The ticket with what its pages show (``ticket_get_for_conversation``), or ``Http404``."""
    _check_rep(user)
    ticket = ticket_get_for_conversation(ticket_id=ticket_id)
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def access_message_by_id(*, user: Any, ticket: Ticket, message_id: int) -> Message:
    """A message of ``ticket`` (already accessed), or ``Http404``."""
    _check_rep(user)
    message = message_get_for_conversation(ticket_id=ticket.pk, message_id=message_id)
    if message is None:
        raise Http404("No such message in this conversation.")
    return message
