"""Writes of the people who work the help desk (Settings → Help Desk → Users and Teams): admins
invite users, set their role, teams, capacity and availability, deactivate them, and create,
rename and delete teams and set their members.

Every service here takes the acting admin (``actor``; anyone else gets ``PermissionDenied``),
checks all of its input before writing (a ``ValidationError`` whose dict keys are the fields of
the settings forms; nothing is stored), and records its audit entries (``channels_app.audit``)
in its own transaction. Passwords never pass through here: a new user gets an unusable password
and a one-time set-password link (``Invite``).

How routing stays consistent (``routing.services`` assigns by these rows):

- **A new user** starts Away unless the admin says otherwise, so no ticket is assigned to
  someone who has not signed in yet.
- **Deactivating a user**: they cannot sign in (Django refuses inactive users, and their open
  sessions stop resolving to them), they are set Away, and routing already skips deactivated
  reps ("inactive" in the explanations). Their team memberships and the routing rules that name
  them are *kept*, so reactivating restores them as they were; the channel account's edit page
  offers active users only, so saving that rule drops them. Their open tickets are *released*:
  unassigned through ``routing.ownership.ticket_owner_set``, each with a decision saying why;
  a ticket whose account's rule assigns automatically to users or teams joins the routing
  backlog and is handed out by the usual backlog drain (the drains of the rule's other active
  reps are sent after commit), the others stay unassigned in the Unassigned view. Leaving
  them with someone who can no longer sign in would strand the customers.
- **Removing a user from a team** changes nothing about the tickets they own: they are still
  active and still answer them; only new assignments through that team's rules stop.
- **Adding members** (to a team, or teams to a user) and reactivating send the backlog drain
  for them, since they may now be eligible for tickets waiting on those rules.
- **Deleting a team** that the routing rule of a (non-deleted) channel account uses is
  refused, naming the accounts: removing it silently could leave a rule with nobody to assign
  to. Deleted (archived) accounts' rules just lose the team.

Locks: ``user_update`` locks the user's profile first, then (releasing) each open ticket's
backlog row and ticket. That is the reverse of routing's order (backlog row, ticket, profiles),
and safe: no writer holds an *assigned* ticket while waiting for its owner's profile. Taking
the profile first means an assignment that raced with the deactivation either committed before
(its ticket is then read and released here) or waits and then sees the rep Away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from channels_app.audit import audit_record
from channels_app.models import AuditEntry
from helpdesk.on_commit import after_commit
from helpdesk.users import user_display_name
from routing.availability import availability_set, capacity_set, rep_is_admin, rep_profile_locked
from routing.models import AssignmentDecision, RepProfile, RoutingRule, Team, WaitingTicket
from routing.ownership import ticket_owner_set
from routing.selectors import team_routing_accounts
from routing.services import backlog_drain_schedule
from tickets.models import Ticket, TicketState

Role = RepProfile.Role
Availability = RepProfile.Availability
Mode = RoutingRule.Mode

NAME_MAX_LENGTH = 150
TEAM_NAME_MAX_LENGTH = 200

# Modes whose rules draw on their users and teams (the modes the backlog drain serves).
_ASSIGNING_MODES = (Mode.SPECIFIC_USERS_AND_TEAMS, Mode.CONTACT_OWNER)


@dataclass(frozen=True)
class Invite:
    """A one-time link that lets ``user`` set their password (Django's password-reset tokens:
    it stops working once the password is set, when the email changes, or after
    ``PASSWORD_RESET_TIMEOUT``). ``path`` is for the admin's page, ``url`` (on
    ``PUBLIC_BASE_URL``) for the email; ``emailed`` says whether an email goes out on commit."""

    user: Any
    path: str
    url: str
    emailed: bool


# --- Helpers --------------------------------------------------------------------------------


def _admin_required(actor: Any) -> None:
    if not rep_is_admin(actor):
        raise PermissionDenied("Only an admin can manage users and teams.")


def _target_allowed(actor: Any, user: Any) -> None:
    """Staff and superusers reach Django's admin site: only a superuser may change them or
    send them a set-password link, or a help desk admin could take their account over."""
    if (user.is_staff or user.is_superuser) and not actor.is_superuser:
        raise PermissionDenied("Only a superuser can manage a staff or superuser account.")


def _user_target(user: Any) -> str:
    return f"User {user.get_username()}"


def _team_target(name: str) -> str:
    return f"Team {name}"


def _audit(actor: Any, action: str, target: str, changes: dict[str, Any]) -> None:
    audit_record(actor_id=actor.pk, action=action, target=target, changes=changes)


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _check_names(errors: dict[str, list[str]], first_name: str, last_name: str) -> None:
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if len(value) > NAME_MAX_LENGTH:
            _add(errors, field, f"At most {NAME_MAX_LENGTH} characters.")


def _check_email(errors: dict[str, list[str]], email: str, *, exclude_id: int | None) -> None:
    if not email:
        return
    try:
        validate_email(email)
    except ValidationError:
        _add(errors, "email", "Enter a valid email address.")
        return
    others = get_user_model().objects.filter(email__iexact=email)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    if others.exists():
        _add(errors, "email", "Another user has this email address.")


def _check_profile_values(
    errors: dict[str, list[str]], *, role: str, capacity: int | None, availability: str
) -> None:
    if role not in Role.values:
        _add(errors, "role", "Choose Admin or Rep.")
    if capacity is not None and capacity < 0:
        _add(errors, "capacity", "A capacity is zero or more (blank: no limit).")
    if availability not in Availability.values:
        _add(errors, "availability", "Choose Available or Away.")


def _check_ids(
    errors: dict[str, list[str]], field: str, model: Any, ids: Iterable[int]
) -> list[int]:
    wanted = sorted(set(ids))
    found = set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        _add(errors, field, f"Unknown: {', '.join(map(str, missing))}.")
    return wanted


# --- Invitations ----------------------------------------------------------------------------


def _invite_make(user: Any) -> Invite:
    """The set-password link of ``user``, emailed after commit when they have an address."""
    path = reverse(
        "password-set",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    url = f"{settings.PUBLIC_BASE_URL}{path}"
    if user.email:
        after_commit(
            _invite_email_send,
            email=user.email,
            name=user_display_name(user),
            username=user.get_username(),
            url=url,
        )
    return Invite(user=user, path=path, url=url, emailed=bool(user.email))


def _invite_email_send(*, email: str, name: str, username: str, url: str) -> None:
    """Sends the invitation (after commit, through Django's email backend)."""
    send_mail(
        subject="You are invited to the help desk",
        message=(
            f"Hello {name},\n\n"
            f"An admin added you to the help desk with the username {username}.\n"
            f"Choose your password here (the link works once):\n\n{url}\n\n"
            "Then sign in with your username and that password.\n"
        ),
        from_email=None,
        recipient_list=[email],
    )


@transaction.atomic
def user_invite(*, actor: Any, user: Any) -> Invite:
    """A new set-password link for ``user`` (a lost invitation, or a forgotten password),
    emailed after commit when they have an address. Refused (``ValidationError``) for a
    deactivated user. Nothing is stored: the link's token is derived from the user's row."""
    _admin_required(actor)
    _target_allowed(actor, user)
    if not user.is_active:
        raise ValidationError("A deactivated user cannot be invited: reactivate them first.")
    invite = _invite_make(user)
    _audit(actor, AuditEntry.Action.EDIT, _user_target(user), {"invited": True})
    return invite


# --- Users ----------------------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    actor: Any,
    username: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    role: str = Role.REP,
    team_ids: Iterable[int] = (),
    capacity: int | None = None,
    availability: str = Availability.AWAY,
) -> Invite:
    """Creates a user with an unusable password, their routing profile and teams, and returns
    their invitation (``Invite``: the one-time set-password link, emailed after commit when
    ``email`` is given).

    New users start Away by default: no ticket is assigned to them before they sign in.
    Raises ``ValidationError`` (keyed by field, nothing stored) for a taken or malformed
    username, a malformed or taken email, an unknown role, team or availability, a negative
    capacity. Records an audit entry (never a password).
    """
    _admin_required(actor)
    username = username.strip()
    first_name, last_name, email = first_name.strip(), last_name.strip(), email.strip()
    errors: dict[str, list[str]] = {}
    users = get_user_model()
    username_max = users._meta.get_field("username").max_length or NAME_MAX_LENGTH
    if not username:
        _add(errors, "username", "Enter a username.")
    elif len(username) > username_max:
        _add(errors, "username", f"At most {username_max} characters.")
    else:
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError:
            _add(errors, "username", "Use letters, digits and @ . + - _ only.")
        else:
            if users.objects.filter(username__iexact=username).exists():
                _add(errors, "username", "A user with this username already exists.")
    _check_names(errors, first_name, last_name)
    _check_email(errors, email, exclude_id=None)
    _check_profile_values(errors, role=role, capacity=capacity, availability=availability)
    team_ids = _check_ids(errors, "teams", Team, team_ids)
    if errors:
        raise ValidationError(errors)

    user = users(username=username, first_name=first_name, last_name=last_name, email=email)
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as error:  # the same username, created concurrently
        raise ValidationError(
            {"username": ["A user with this username already exists."]}
        ) from error
    RepProfile.objects.create(user=user, role=role, capacity=capacity, availability=availability)
    _user_teams_set(user=user, team_ids=team_ids)
    _audit(
        actor,
        AuditEntry.Action.EDIT,
        _user_target(user),
        {
            "created": True,
            "role": role,
            "teams": _team_names(team_ids),
            "capacity": capacity,
            "availability": availability,
            "email": email,
        },
    )
    return _invite_make(user)


def _team_names(team_ids: Iterable[int]) -> list[str]:
    ids = list(team_ids)
    if not ids:
        return []
    return list(Team.objects.filter(pk__in=ids).order_by("name").values_list("name", flat=True))


@transaction.atomic
def user_update(
    *,
    actor: Any,
    user: Any,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    team_ids: Iterable[int],
    capacity: int | None,
    availability: str,
    is_active: bool,
) -> Any:
    """Sets a user's name, email, role, teams, capacity, availability and whether they are
    active; returns the user as stored.

    An admin cannot remove their own admin role nor deactivate themselves. Raises
    ``ValidationError`` (keyed by field, nothing stored) for those and for bad values.
    Deactivating (see the module docstring) sets them Away whatever ``availability`` says and
    releases their open tickets; reactivating leaves them as ``availability`` says. Capacity
    and availability go through ``capacity_set`` / ``availability_set`` (backlog drains).
    Locks the profile, then the user row, then their open tickets. Records audit entries: an
    edit with what changed, and a deactivation or reactivation.
    """
    _admin_required(actor)
    _target_allowed(actor, user)
    first_name, last_name, email = first_name.strip(), last_name.strip(), email.strip()
    errors: dict[str, list[str]] = {}
    _check_names(errors, first_name, last_name)
    _check_email(errors, email, exclude_id=user.pk)
    _check_profile_values(errors, role=role, capacity=capacity, availability=availability)
    team_ids = _check_ids(errors, "teams", Team, team_ids)
    if user.pk == actor.pk:
        if not is_active:
            _add(errors, "is_active", "You cannot deactivate yourself: ask another admin.")
        if role != Role.ADMIN and not (user.is_staff or user.is_superuser):
            _add(errors, "role", "You cannot remove your own admin role: ask another admin.")
    if errors:
        raise ValidationError(errors)

    profile = rep_profile_locked(user.pk)
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    changes: dict[str, Any] = {}
    for field, value in (("first_name", first_name), ("last_name", last_name), ("email", email)):
        if getattr(user, field) != value:
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    was_active = bool(user.is_active)
    user.is_active = is_active
    if changes or was_active != is_active:
        user.save(update_fields=[*(f for f in changes), "is_active"])
    if profile.role != role:
        changes["role"] = [profile.role, role]
        profile.role = role
        profile.save(update_fields=["role"])
    added, removed = _user_teams_set(user=user, team_ids=team_ids)
    if added or removed:
        changes["teams"] = {"added": _team_names(added), "removed": _team_names(removed)}
    if profile.capacity != capacity:
        changes["capacity"] = [profile.capacity, capacity]
        capacity_set(user=user, capacity=capacity, set_by=actor)
    wanted = availability if is_active else Availability.AWAY
    if profile.availability != wanted:
        changes["availability"] = [profile.availability, wanted]
        availability_set(user=user, availability=wanted, set_by=actor)
    if changes:
        _audit(actor, AuditEntry.Action.EDIT, _user_target(user), changes)
    if was_active and not is_active:
        released = _open_tickets_release(user=user, actor=actor)
        _audit(
            actor,
            AuditEntry.Action.DEACTIVATE,
            _user_target(user),
            {"is_active": False, "openTicketsReleased": released},
        )
    elif is_active and not was_active:
        _audit(actor, AuditEntry.Action.REACTIVATE, _user_target(user), {"is_active": True})
        backlog_drain_schedule(user_id=user.pk)
    return user


def _open_tickets_release(*, user: Any, actor: Any) -> int:
    """Unassigns the open tickets of a user being deactivated (their profile is locked) and
    hands them back to routing; returns how many.

    Each is unassigned through ``routing.ownership.ticket_owner_set`` (the one way owners
    change: its decision, live event and drain), then gets a second ``AssignmentDecision``
    saying why and what next. A ticket whose account's rule assigns automatically and names
    users or teams joins the backlog (oldest first by creation, as new tickets do), and the
    backlog drains of that rule's other active reps are sent after commit; the others stay
    unassigned (their rule would not assign them either).
    """
    tickets = list(
        Ticket.objects.filter(owner_id=user.pk, state=TicketState.OPEN)
        .order_by("id")
        .only("id", "channel_account_id", "created_at")
    )
    if not tickets:
        return 0
    account_ids = {t.channel_account_id for t in tickets if t.channel_account_id is not None}
    names_someone = Exists(
        RoutingRule.users.through.objects.filter(routingrule_id=OuterRef("pk"))
    ) | Exists(RoutingRule.teams.through.objects.filter(routingrule_id=OuterRef("pk")))
    rules = dict(
        RoutingRule.objects.filter(
            names_someone,
            channel_account_id__in=account_ids,
            auto_assign=True,
            mode__in=_ASSIGNING_MODES,
        ).values_list("channel_account_id", "pk")
    )
    released = []
    for ticket in tickets:
        # Routing's lock order (backlog row, then ticket), then the check that it is still
        # theirs: a ticket reassigned or closed since the list was read is left alone.
        WaitingTicket.objects.select_for_update().filter(ticket_id=ticket.pk).first()
        current = (
            Ticket.objects.select_for_update(of=("self",))
            .filter(pk=ticket.pk, owner_id=user.pk, state=TicketState.OPEN)
            .first()
        )
        if current is not None:
            released.append(ticket_owner_set(ticket=current, owner=None, by=actor))
    waiting = [
        WaitingTicket(ticket_id=t.pk, channel_account_id=account_id, since=t.created_at)
        for t in released
        if (account_id := t.channel_account_id) is not None and account_id in rules
    ]
    WaitingTicket.objects.bulk_create(waiting, ignore_conflicts=True)
    queued = {wait.ticket_id for wait in waiting}
    name = user_display_name(user)
    AssignmentDecision.objects.bulk_create(
        [
            AssignmentDecision(
                ticket_id=t.pk,
                trigger=AssignmentDecision.Trigger.BACKLOG,
                outcome=(
                    AssignmentDecision.Outcome.WAITING
                    if t.pk in queued
                    else AssignmentDecision.Outcome.UNASSIGNED
                ),
                details={"triggeredByUserId": actor.pk, "previousOwnerId": user.pk},
                summary=f"{name} was deactivated: "
                + (
                    "the ticket waits for the next eligible rep of its routing rule."
                    if t.pk in queued
                    else "the ticket stays unassigned (its routing rule does not assign it)."
                ),
            )
            for t in released
        ]
    )
    for rep_id in _active_rule_reps(rule_ids=set(rules.values()), exclude_id=user.pk):
        backlog_drain_schedule(user_id=rep_id)
    return len(released)


def _active_rule_reps(*, rule_ids: set[int], exclude_id: int) -> list[int]:
    """The active users the rules name, directly or through their teams (one query)."""
    if not rule_ids:
        return []
    direct = RoutingRule.users.through.objects.filter(routingrule_id__in=rule_ids).values("user_id")
    team_ids = RoutingRule.teams.through.objects.filter(routingrule_id__in=rule_ids).values(
        "team_id"
    )
    members = Team.members.through.objects.filter(team_id__in=team_ids).values("user_id")
    return list(
        get_user_model()
        .objects.filter(Q(pk__in=direct) | Q(pk__in=members), is_active=True)
        .exclude(pk=exclude_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- Memberships ----------------------------------------------------------------------------


def _memberships_replace(
    *, of: str, owner_id: int, other: str, wanted: list[int]
) -> tuple[list[int], list[int]]:
    """Makes the team memberships whose ``of`` ("user_id" or "team_id") is ``owner_id`` exactly
    those with ``other`` in ``wanted``; returns (added, removed) ``other`` ids."""
    through = Team.members.through
    mine = through.objects.filter(**{of: owner_id})
    current = set(mine.values_list(other, flat=True))
    added, removed = sorted(set(wanted) - current), sorted(current - set(wanted))
    if removed:
        mine.filter(**{f"{other}__in": removed}).delete()
    if added:
        through.objects.bulk_create(
            [through(**{of: owner_id, other: other_id}) for other_id in added],
            ignore_conflicts=True,
        )
    return added, removed


def _user_teams_set(*, user: Any, team_ids: list[int]) -> tuple[list[int], list[int]]:
    """Makes ``user`` a member of exactly ``team_ids``; returns (added, removed) team ids. New
    memberships send the user's backlog drain after commit."""
    added, removed = _memberships_replace(
        of="user_id", owner_id=user.pk, other="team_id", wanted=team_ids
    )
    if added:
        backlog_drain_schedule(user_id=user.pk)
    return added, removed


def _team_members_set(*, team: Team, user_ids: list[int]) -> tuple[list[int], list[int]]:
    """Makes ``team``'s members exactly ``user_ids``; each new member's backlog drain is sent
    after commit."""
    added, removed = _memberships_replace(
        of="team_id", owner_id=team.pk, other="user_id", wanted=user_ids
    )
    for user_id in added:
        backlog_drain_schedule(user_id=user_id)
    return added, removed


def _usernames(user_ids: list[int]) -> list[str]:
    if not user_ids:
        return []
    return list(
        get_user_model()
        .objects.filter(pk__in=user_ids)
        .order_by("username")
        .values_list("username", flat=True)
    )


# --- Teams ----------------------------------------------------------------------------------


def _check_team_name(errors: dict[str, list[str]], name: str, *, exclude_id: int | None) -> None:
    if not name:
        _add(errors, "name", "Enter a name.")
        return
    if len(name) > TEAM_NAME_MAX_LENGTH:
        _add(errors, "name", f"At most {TEAM_NAME_MAX_LENGTH} characters.")
        return
    others = Team.objects.filter(name__iexact=name)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    if others.exists():
        _add(errors, "name", "A team with this name already exists.")


def _team_save(team: Team) -> None:
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError as error:  # the same name, saved concurrently
        raise ValidationError({"name": ["A team with this name already exists."]}) from error


@transaction.atomic
def team_create(*, actor: Any, name: str, member_ids: Iterable[int] = ()) -> Team:
    """Creates a team with ``member_ids``. Raises ``ValidationError`` (nothing stored) for an
    empty, too long or taken name (case-insensitive) or an unknown user. Records an audit
    entry."""
    _admin_required(actor)
    name = name.strip()
    errors: dict[str, list[str]] = {}
    _check_team_name(errors, name, exclude_id=None)
    ids = _check_ids(errors, "members", get_user_model(), member_ids)
    if errors:
        raise ValidationError(errors)
    team = Team(name=name)
    _team_save(team)
    _team_members_set(team=team, user_ids=ids)
    _audit(
        actor,
        AuditEntry.Action.EDIT,
        _team_target(name),
        {"created": True, "members": _usernames(ids)},
    )
    return team


@transaction.atomic
def team_update(*, actor: Any, team: Team, name: str, member_ids: Iterable[int]) -> Team:
    """Renames ``team`` and sets its members (the whole set). Routing rules refer to the team
    by id, so a rename changes nothing else. Raises ``ValidationError`` (nothing stored) as
    ``team_create``. Locks the team row. Records an audit entry when something changed."""
    _admin_required(actor)
    name = name.strip()
    errors: dict[str, list[str]] = {}
    _check_team_name(errors, name, exclude_id=team.pk)
    ids = _check_ids(errors, "members", get_user_model(), member_ids)
    if errors:
        raise ValidationError(errors)
    team = Team.objects.select_for_update().get(pk=team.pk)
    changes: dict[str, Any] = {}
    old_name = team.name
    if old_name != name:
        changes["name"] = [old_name, name]
        team.name = name
        _team_save(team)
    added, removed = _team_members_set(team=team, user_ids=ids)
    if added or removed:
        changes["members"] = {"added": _usernames(added), "removed": _usernames(removed)}
    if changes:
        _audit(actor, AuditEntry.Action.EDIT, _team_target(old_name), changes)
    return team


@transaction.atomic
def team_delete(*, actor: Any, team: Team) -> None:
    """Deletes ``team`` (its memberships go with it; members keep their tickets). Refused with
    a ``ValidationError`` naming the channel accounts whose routing uses it (module
    docstring). Locks the team row. Records an audit entry."""
    _admin_required(actor)
    team = Team.objects.select_for_update().get(pk=team.pk)
    accounts = team_routing_accounts(team_id=team.pk)
    if accounts:
        raise ValidationError(
            f"“{team.name}” is used by the routing of {', '.join(accounts)}. "
            "Choose other users or teams there first, then delete the team."
        )
    members = _usernames(
        list(Team.members.through.objects.filter(team_id=team.pk).values_list("user_id", flat=True))
    )
    name = team.name
    team.delete()
    _audit(actor, AuditEntry.Action.DELETE, _team_target(name), {"members": members})
