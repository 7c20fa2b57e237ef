"""The ticket page (``/inbox/tickets/<id>/details/``, SPEC I3, R4): every property, edited
through ``tickets.services.ticket_update`` with its errors beside the fields; the ticket's
history; and how routing decided its owner (``routing.AssignmentDecision``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from helpdesk.api_errors import ApiError
from helpdesk.users import user_display_name
from routing.models import AssignmentDecision
from routing.selectors import assignment_decision_list_for_ticket
from routing.services import REASON_LABELS
from tickets.access import access_ticket_by_id
from tickets.forms import TicketUpdateForm, service_errors_apply
from tickets.models import Ticket, TicketChange
from tickets.selectors import (
    pipeline_list_with_statuses,
    ticket_change_list,
    user_list_for_owner_menu,
)
from tickets.services import ticket_update
from tickets.views.inbox import inbox_nav_context

FIELD_LABELS = {
    "name": "Name",
    "pipeline": "Pipeline",
    "status": "Status",
    "priority": "Priority",
    "category": "Category",
}


def _reason_label(reason: Any) -> str:
    """Why routing skipped a rep, as ``AssignmentDecision.Reason`` labels it."""
    return REASON_LABELS.get(str(reason), "Skipped")


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    who: str
    text: str


def _change_text(change: TicketChange) -> str:
    label = FIELD_LABELS.get(change.field, change.field.capitalize())
    if not change.old_value:
        return f"{label} set to “{change.new_value}”"
    if not change.new_value:
        return f"{label} cleared (was “{change.old_value}”)"
    return f"{label} changed from “{change.old_value}” to “{change.new_value}”"


def ticket_history(
    ticket: Ticket, changes: list[TicketChange], decisions: list[AssignmentDecision]
) -> list[HistoryEntry]:
    """Property changes, assignments and the creation, newest first."""
    entries = [
        HistoryEntry(
            change.created_at,
            user_display_name(change.by) if change.by else "",
            _change_text(change),
        )
        for change in changes
    ]
    entries += [
        HistoryEntry(
            decision.created_at,
            "" if decision.trigger == AssignmentDecision.Trigger.MANUAL else "Routing",
            decision.summary,
        )
        for decision in decisions
    ]
    source = ticket.channel_account
    created = f"Created from {source.channel.name} · {source.name}" if source else "Created"
    entries.append(HistoryEntry(ticket.created_at, "", created))
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def candidate_rows(decision: AssignmentDecision) -> list[dict[str, Any]]:
    """A decision's candidates as the explanation's table shows them."""
    rows = []
    for entry in decision.candidates or []:
        if not isinstance(entry, dict):
            continue
        capacity = entry.get("capacity")
        rows.append(
            {
                "name": entry.get("name", ""),
                "via": ", ".join(str(v).replace("team:", "team ") for v in entry.get("via") or []),
                "availability": str(entry.get("availability") or "").capitalize(),
                "load": f"{entry.get('openTickets', 0)}/{capacity if capacity is not None else '∞'}",
                "online": bool(entry.get("online")),
                "verdict": (
                    "Chosen"
                    if entry.get("chosen")
                    else "Eligible"
                    if entry.get("eligible")
                    else _reason_label(entry.get("reason"))
                ),
                "chosen": bool(entry.get("chosen")),
            }
        )
    return rows


class TicketDetailView(LoginRequiredMixin, View):
    """``/inbox/tickets/<id>/details/``: the ticket's properties, history and routing."""

    template_name = "tickets/inbox/ticket.html"

    def _render(
        self, request: HttpRequest, ticket: Ticket, form: TicketUpdateForm, status: int = 200
    ) -> HttpResponse:
        decisions = list(assignment_decision_list_for_ticket(ticket_id=ticket.pk))
        context = {
            **inbox_nav_context(user=request.user),
            "ticket": ticket,
            "form": form,
            "history": ticket_history(ticket, ticket_change_list(ticket_id=ticket.pk), decisions),
            "decisions": [
                {"decision": decision, "candidates": candidate_rows(decision)}
                for decision in decisions
            ],
        }
        return render(request, self.template_name, context, status=status)

    def _form(self, ticket: Ticket, data: Any = None) -> TicketUpdateForm:
        initial = {
            "name": ticket.name,
            "pipeline": ticket.pipeline_id,
            "status": ticket.status_id,
            "priority": ticket.priority,
            "category": ticket.category,
            "owner": ticket.owner_id,
        }
        return TicketUpdateForm(
            data,
            initial=initial,
            pipelines=pipeline_list_with_statuses(),
            owners=user_list_for_owner_menu(),
        )

    def get(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        return self._render(request, ticket, self._form(ticket))

    def post(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        form = self._form(ticket, request.POST)
        if not form.is_valid():
            return self._render(request, ticket, form, status=400)
        try:
            ticket_update(ticket=ticket, by=request.user, **form.changes())
        except ApiError as error:
            service_errors_apply(form, error)
            return self._render(request, ticket, form, status=400)
        flash.success(request, "The ticket is saved.")
        return HttpResponseRedirect(reverse("ticket-detail", args=[ticket.pk]))
