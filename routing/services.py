"""Writes of routing: assigning tickets by their channel account's routing rule (R1-R4), the
backlog of tickets nobody could take yet, and reps' availability, capacity and presence (R5).

- ``ticket_route``: a new ticket, by its account's rule: None → unassigned; Specific users and
  teams → round robin among the eligible reps (Available, below capacity), else the backlog;
  Contact owner → the owner (even offline: the assignment notification reaches them by email),
  else the specific users and teams when the rule names some, else unassigned. Every decision
  is stored as an ``AssignmentDecision`` with its candidates and why each was skipped.
- ``backlog_drain``: hands the backlog out oldest first when a rep becomes Available or frees
  capacity (``backlog_drain_schedule`` sends it after commit).

Reps' availability, capacity and presence are ``routing.availability``.

Lock order of every writer here: a backlog row, then its ticket, then reps' profiles in user id
order. Two assignments that share a rep serialise on that rep's profile row, and each counts
open tickets only once it holds the locks, so no rep is picked from stale state and no
capacity is exceeded. (SQLite has no row locks; its writers are serialised whole.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from helpdesk.on_commit import after_commit
from helpdesk.users import user_display_name
from routing.models import (
    AssignmentDecision,
    NotificationKind,
    RepProfile,
    RoutingRule,
    Team,
    WaitingTicket,
)
from routing.notifications import message_sender_name, notification_create
from routing.selectors import rep_profile_is_online
from tickets.live import live_event_publish
from tickets.models import LiveEvent, Message, MessageDirection, Ticket, TicketState

Mode = RoutingRule.Mode
Outcome = AssignmentDecision.Outcome
REASON_LABELS: dict[str, str] = dict(AssignmentDecision.Reason.choices)
Trigger = AssignmentDecision.Trigger

# Tickets one ``backlog_drain`` run hands out before it sends itself again (short runs).
BACKLOG_DRAIN_BATCH = 50


# --- Candidates -----------------------------------------------------------------------------


@dataclass
class _Candidate:
    profile: RepProfile
    via: list[str]
    open_tickets: int = 0
    reason: str | None = None

    @property
    def user_id(self) -> int:
        return self.profile.user_id

    @property
    def name(self) -> str:
        return user_display_name(self.profile.user)

    @property
    def eligible(self) -> bool:
        return self.reason is None

    def entry(self, *, now: datetime, chosen_id: int | None) -> dict[str, Any]:
        profile = self.profile
        return {
            "userId": self.user_id,
            "name": self.name,
            "via": self.via,
            "availability": profile.availability,
            "capacity": profile.capacity,
            "openTickets": self.open_tickets,
            "online": rep_profile_is_online(profile, now=now),
            "lastAssignedAt": profile.last_assigned_at.isoformat()
            if profile.last_assigned_at
            else None,
            "eligible": self.eligible,
            "reason": self.reason,
            "chosen": self.user_id == chosen_id,
        }


@dataclass
class _Pool:
    """The reps a rule names: chosen users and members of chosen teams, with how they came."""

    via: dict[int, list[str]] = field(default_factory=dict)
    teams: list[dict[str, Any]] = field(default_factory=list)
    without_profile: list[int] = field(default_factory=list)

    @property
    def user_ids(self) -> list[int]:
        return sorted(self.via)

    @property
    def team_member_ids(self) -> list[int]:
        return sorted({user_id for team in self.teams for user_id in team["memberIds"]})


def _pool_load(rule: RoutingRule) -> _Pool:
    """The rule's users and teams in two queries, whatever their number."""
    users_through = RoutingRule.users.through
    rule_team_ids = RoutingRule.teams.through.objects.filter(routingrule_id=rule.pk).values(
        "team_id"
    )
    pool = _Pool()
    teams: dict[int, dict[str, Any]] = {}
    for team_id, name, member_id in (
        Team.objects.filter(pk__in=rule_team_ids)
        .order_by("name", "id")
        .values_list("id", "name", "members")
    ):
        team = teams.setdefault(team_id, {"id": team_id, "name": name, "memberIds": []})
        if member_id is not None:
            team["memberIds"].append(member_id)
    pool.teams = list(teams.values())
    direct_ids = users_through.objects.filter(routingrule_id=rule.pk).values("user_id")
    member_ids = Team.members.through.objects.filter(team_id__in=rule_team_ids).values("user_id")
    users = (
        get_user_model()
        .objects.filter(Q(pk__in=direct_ids) | Q(pk__in=member_ids))
        .annotate(
            direct=Exists(
                users_through.objects.filter(routingrule_id=rule.pk, user_id=OuterRef("pk"))
            )
        )
        .values_list("pk", "rep_profile__id", "direct")
    )
    for user_id, profile_id, direct in users:
        via = ["user"] if direct else []
        via += [f"team:{team['name']}" for team in pool.teams if user_id in team["memberIds"]]
        pool.via[user_id] = via
        if profile_id is None:
            pool.without_profile.append(user_id)
    return pool


def rep_profiles_ensure(user_ids: list[int]) -> None:
    """Creates the missing profiles (Available, no capacity) before anything is locked."""
    if user_ids:
        RepProfile.objects.bulk_create(
            [RepProfile(user_id=user_id) for user_id in user_ids], ignore_conflicts=True
        )


def _candidates_locked(via: dict[int, list[str]]) -> list[_Candidate]:
    """Locks the reps' profiles in user id order, then counts their open tickets (one aggregate
    query, run once the locks are held so it sees every assignment committed before)."""
    user_ids = sorted(via)
    if not user_ids:
        return []
    profiles = list(
        RepProfile.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(user_id__in=user_ids)
        .order_by("user_id")
    )
    open_counts = dict(
        Ticket.objects.filter(owner_id__in=user_ids, state=TicketState.OPEN)
        .order_by()
        .values("owner_id")
        .annotate(open=Count("id"))
        .values_list("owner_id", "open")
    )
    candidates = []
    for profile in profiles:
        candidate = _Candidate(
            profile=profile,
            via=via[profile.user_id],
            open_tickets=open_counts.get(profile.user_id, 0),
        )
        if not profile.user.is_active:
            candidate.reason = "inactive"
        elif profile.availability != RepProfile.Availability.AVAILABLE:
            candidate.reason = "away"
        elif profile.capacity is not None and candidate.open_tickets >= profile.capacity:
            candidate.reason = "at_capacity"
        candidates.append(candidate)
    return candidates


def _round_robin(candidates: list[_Candidate]) -> _Candidate | None:
    """The eligible rep whose last assignment is oldest (never assigned first; then user id)."""
    eligible = [candidate for candidate in candidates if candidate.eligible]
    if not eligible:
        return None
    return min(
        eligible,
        key=lambda c: (
            c.profile.last_assigned_at is not None,
            c.profile.last_assigned_at or datetime.min.replace(tzinfo=UTC),
            c.user_id,
        ),
    )


# --- Routing --------------------------------------------------------------------------------


@dataclass
class _Plan:
    outcome: str
    summary: str
    assignee: _Candidate | None = None
    candidates: list[_Candidate] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    contact_owner: dict[str, Any] | None = None
    fallback: bool = False


def _skips_sentence(candidates: list[_Candidate]) -> str:
    parts = []
    for candidate in candidates:
        if candidate.reason == "at_capacity":
            parts.append(
                f"{candidate.name} at capacity ({candidate.open_tickets}/{candidate.profile.capacity})"
            )
        elif candidate.reason:
            label = REASON_LABELS.get(candidate.reason, candidate.reason)
            parts.append(f"{candidate.name} {label.lower()}")
    return "; ".join(parts)


def _plan_specific(rule: RoutingRule, *, fallback: bool) -> _Plan:
    pool = _pool_load(rule)
    prefix = "No contact owner; falling back to the specific users and teams. " if fallback else ""
    if not pool.via and not pool.teams:
        return _Plan(
            outcome=Outcome.UNASSIGNED,
            summary=prefix + "The rule names no users or teams: left unassigned.",
            fallback=fallback,
        )
    rep_profiles_ensure(pool.without_profile)
    candidates = _candidates_locked(pool.via)
    chosen = _round_robin(candidates)
    skipped = _skips_sentence(candidates)
    if chosen is None:
        why = f" ({skipped})" if skipped else " (the chosen teams have no members)"
        return _Plan(
            outcome=Outcome.WAITING,
            summary=prefix
            + f"Nobody was eligible{why}: the ticket waits for the first rep to become "
            "available or free capacity.",
            candidates=candidates,
            teams=pool.teams,
            fallback=fallback,
        )
    eligible = [c.name for c in candidates if c.eligible]
    summary = (
        prefix + f"Assigned to {chosen.name} by round robin: the eligible rep assigned longest ago "
        f"among {', '.join(eligible)}."
    )
    if skipped:
        summary += f" Skipped: {skipped}."
    return _Plan(
        outcome=Outcome.ASSIGNED,
        summary=summary,
        assignee=chosen,
        candidates=candidates,
        teams=pool.teams,
        fallback=fallback,
    )


def _plan(ticket: Ticket, rule: RoutingRule | None, *, now: datetime) -> _Plan:
    if rule is None:
        return _Plan(
            Outcome.UNASSIGNED, "The channel account has no routing rule: left unassigned."
        )
    if not rule.auto_assign:
        return _Plan(
            Outcome.UNASSIGNED,
            "Automatic assignment is off for this channel account: left unassigned.",
            teams=_pool_load(rule).teams if rule.mode != Mode.NONE else [],
        )
    if rule.mode == Mode.SPECIFIC_USERS_AND_TEAMS:
        return _plan_specific(rule, fallback=False)
    if rule.mode == Mode.CONTACT_OWNER:
        owner_id = ticket.contact.owner_id if ticket.contact_id else None
        if owner_id is None:
            return _plan_contact_owner_missing(rule)
        rep_profiles_ensure([owner_id])
        owner = _candidates_locked({owner_id: ["contact_owner"]})[0]
        online = rep_profile_is_online(owner.profile, now=now)
        info = {"userId": owner.user_id, "name": owner.name, "online": online}
        if not owner.profile.user.is_active:
            plan = _plan_contact_owner_missing(
                rule, note=f"The contact owner {owner.name} is deactivated."
            )
            plan.contact_owner = info
            plan.candidates = [owner, *plan.candidates]
            return plan
        # The owner gets the ticket whatever their availability and capacity: contact ownership
        # is an explicit assignment (like a manual one), not a round robin.
        owner.reason = None
        state = (
            "online" if online else "offline: the assignment and its message go to them by email"
        )
        return _Plan(
            Outcome.ASSIGNED,
            f"Assigned to the contact owner {owner.name} ({state}).",
            assignee=owner,
            candidates=[owner],
            contact_owner=info,
        )
    return _Plan(Outcome.UNASSIGNED, "The rule's mode is None: left unassigned.")


def _plan_contact_owner_missing(rule: RoutingRule, *, note: str = "") -> _Plan:
    has_fallback = RoutingRule.users.through.objects.filter(routingrule_id=rule.pk).exists() or (
        RoutingRule.teams.through.objects.filter(routingrule_id=rule.pk).exists()
    )
    if has_fallback:
        plan = _plan_specific(rule, fallback=True)
        if note:
            plan.summary = f"{note} {plan.summary.removeprefix('No contact owner; ')}"
        return plan
    lead = note or "The contact has no owner"
    return _Plan(
        Outcome.UNASSIGNED,
        f"{lead.rstrip('.')} and the rule names no users or teams to fall back to: left unassigned.",
    )


def _route(
    ticket: Ticket,
    rule: RoutingRule | None,
    *,
    trigger: str,
    message: Message | None,
    triggered_by_id: int | None = None,
) -> _Plan:
    """Plans, applies and records one routing decision. Preconditions: the ticket is open and
    unassigned, and locked or not yet visible to others."""
    plan = _plan(ticket, rule, now=timezone.now())
    # Read the clock only once the profiles are locked: an assignment that waited for another
    # must be stamped after it, or round robin would see it as the older one.
    now = timezone.now()
    if trigger == Trigger.BACKLOG and plan.outcome != Outcome.ASSIGNED:
        # Still waiting (or its rule no longer assigns): nothing changed, nothing to record.
        return plan
    chosen_id = plan.assignee.user_id if plan.assignee else None
    if chosen_id is not None:
        Ticket.objects.filter(pk=ticket.pk).update(
            owner_id=chosen_id, assigned_at=now, updated_at=now
        )
        ticket.owner_id = chosen_id
        ticket.assigned_at = now
        RepProfile.objects.filter(user_id=chosen_id).update(last_assigned_at=now)
        if trigger == Trigger.BACKLOG:
            WaitingTicket.objects.filter(ticket_id=ticket.pk).delete()
        # Live (I8): open inboxes show the new owner once this commits.
        live_event_publish(
            kind=LiveEvent.Kind.TICKET_ASSIGNED, ticket=ticket, data={"trigger": trigger}
        )
    elif plan.outcome == Outcome.WAITING and ticket.channel_account_id is not None:
        WaitingTicket.objects.create(
            ticket=ticket, channel_account_id=ticket.channel_account_id, since=ticket.created_at
        )
    AssignmentDecision.objects.create(
        ticket=ticket,
        trigger=trigger,
        mode=rule.mode if rule else "",
        auto_assign=bool(rule and rule.auto_assign),
        outcome=plan.outcome,
        assignee_id=chosen_id,
        candidates=[candidate.entry(now=now, chosen_id=chosen_id) for candidate in plan.candidates],
        details={
            "teams": plan.teams,
            "contactOwner": plan.contact_owner,
            "fallback": plan.fallback,
            "triggeredByUserId": triggered_by_id,
        },
        summary=plan.summary,
    )
    _notify(ticket, plan, trigger=trigger, message=message, rule=rule)
    return plan


def _latest_incoming_message(ticket: Ticket) -> Message | None:
    return (
        Message.objects.filter(ticket=ticket, direction=MessageDirection.INCOMING)
        .order_by("-timestamp", "-id")
        .first()
    )


def _notify(
    ticket: Ticket, plan: _Plan, *, trigger: str, message: Message | None, rule: RoutingRule | None
) -> None:
    notifies_team = (
        trigger == Trigger.NEW_TICKET
        and rule is not None
        and rule.mode != Mode.NONE
        and bool(plan.teams)
    )
    if plan.assignee is None and not notifies_team:
        return
    if message is None:
        message = _latest_incoming_message(ticket)
    sender = f" from {message_sender_name(message)}" if message else ""
    if plan.assignee is not None:
        notification_create(
            kind=NotificationKind.TICKET_ASSIGNED,
            user_ids=[plan.assignee.user_id],
            ticket=ticket,
            message=message,
            text=f'Ticket #{ticket.pk} "{ticket.name}"{sender} was assigned to you.',
        )
        return
    team_names = ", ".join(team["name"] for team in plan.teams)
    notification_create(
        kind=NotificationKind.TEAM_TICKET_UNASSIGNED,
        user_ids={user_id for team in plan.teams for user_id in team["memberIds"]},
        ticket=ticket,
        message=message,
        text=f'New unassigned ticket #{ticket.pk} "{ticket.name}"{sender} for {team_names}.',
    )


# No savepoint: called inside its caller's transaction, which fails whole with it.
@transaction.atomic(savepoint=False)
def ticket_route(*, ticket: Ticket, rule: RoutingRule | None, message: Message | None) -> Ticket:
    """Assigns a new ticket by its channel account's routing ``rule`` (None: the account has
    none) and records the decision.

    Called by ``tickets.publish.message_publish_inbound`` inside its transaction, once per new
    ticket, with the rule it opened the ticket by and the incoming ``message`` that opened it,
    quoted in notifications and emails (None: a ticket an outgoing message opened; then the
    ticket's newest incoming message, if any, one query when a notification goes out).
    Preconditions: the ticket is open and unassigned. Locks the candidates' profiles (user id order). Side
    effects: notifications (assigned rep; or the rule's teams when nobody got it), whose emails
    leave after commit; a ticket nobody could take joins the backlog. A constant number of
    queries, whatever the number of reps and tickets (``tests/routing/test_queries.py``).
    """
    _route(ticket, rule, trigger=Trigger.NEW_TICKET, message=message)
    return ticket


# --- The backlog ----------------------------------------------------------------------------


class _Drained(enum.Enum):
    EMPTY = "empty"
    ASSIGNED = "assigned"
    STALE = "stale"
    STILL_WAITING = "still_waiting"


def backlog_drain_schedule(*, user_id: int) -> None:
    """Drains the backlog for a rep once the current transaction commits (a Celery task, run
    in-process with the embedded default). Called when a rep becomes Available, gets more
    capacity, or closes a ticket."""
    from routing.tasks import backlog_drain_task

    after_commit(backlog_drain_task.delay, user_id)


def backlog_drain(*, user_id: int, limit: int = BACKLOG_DRAIN_BATCH) -> int:
    """Hands out the backlog of the accounts whose rule includes the rep, oldest first, by the
    same rules as a new ticket; returns how many tickets were assigned.

    One short transaction per ticket. Stops at the first ticket that still finds nobody
    eligible (the rep is away or full again: the tickets behind it would not fare better) or
    after ``limit`` tickets (the task then sends itself again). Concurrent drains skip each
    other's locked backlog rows. Safe to run twice.
    """
    assigned = 0
    for _ in range(limit):
        result = _backlog_drain_next(user_id=user_id)
        if result in (_Drained.EMPTY, _Drained.STILL_WAITING):
            return assigned
        if result is _Drained.ASSIGNED:
            assigned += 1
    backlog_drain_schedule(user_id=user_id)
    return assigned


@transaction.atomic
def _backlog_drain_next(*, user_id: int) -> _Drained:
    rules = (
        RoutingRule.objects.filter(
            auto_assign=True, mode__in=[Mode.SPECIFIC_USERS_AND_TEAMS, Mode.CONTACT_OWNER]
        )
        .filter(Q(users=user_id) | Q(teams__members=user_id))
        .values("channel_account_id")
    )
    wait = (
        WaitingTicket.objects.select_for_update(skip_locked=True)
        .filter(channel_account_id__in=rules)
        .order_by("since", "id")
        .first()
    )
    if wait is None:
        return _Drained.EMPTY
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("contact")
        .filter(pk=wait.ticket_id)
        .first()
    )
    if ticket is None or ticket.state != TicketState.OPEN or ticket.owner_id is not None:
        wait.delete()  # Closed or assigned by hand meanwhile: no longer waiting.
        return _Drained.STALE
    rule = RoutingRule.objects.filter(channel_account_id=wait.channel_account_id).first()
    plan = _route(ticket, rule, trigger=Trigger.BACKLOG, message=None, triggered_by_id=user_id)
    return _Drained.ASSIGNED if plan.outcome == Outcome.ASSIGNED else _Drained.STILL_WAITING
