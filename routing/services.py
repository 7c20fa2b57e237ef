"""Writes of routing: assigning tickets by their channel account's routing rule.

The routing issue fills in the modes (R1-R5); until then every ticket stays unassigned.
"""

from __future__ import annotations

from django.db import transaction

from tickets.models import Ticket


@transaction.atomic
def ticket_route(*, ticket: Ticket) -> Ticket:
    """Assigns a new ticket by its channel account's routing rule. Today: leaves it unassigned.

    Called by ``tickets.services.message_publish_inbound`` inside its transaction, once per new
    ticket.
    """
    return ticket
