"""Settings → Help Desk → Users and Teams: admins invite users, set their role, teams, capacity,
availability and status, and manage teams, through the pages; what is stored, what routing
does with it, and who may do it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.test import Client

from channels_app.models import AuditEntry
from routing.models import AssignmentDecision, RepProfile, RoutingRule, Team, WaitingTicket
from routing.people import team_create, team_update, user_create, user_invite
from routing.selectors import team_list_for_settings, team_routing_accounts
from tests.routing.helpers import Mode, account_with_rule, inbound, rep, team
from tickets.models import Ticket, TicketState

pytestmark = pytest.mark.django_db

USERS = "/settings/help-desk/users/"
ADD_USER = f"{USERS}add/"
TEAMS = "/settings/help-desk/teams/"
User = get_user_model()
Availability = RepProfile.Availability
Role = RepProfile.Role


def _admin(username: str = "admin", **fields: Any) -> Any:
    user = rep(username, **fields)
    RepProfile.objects.filter(user=user).update(role=Role.ADMIN)
    return user


def _browser(user: Any) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


@pytest.fixture
def admin() -> Any:
    return _admin(first_name="Ada", last_name="Admin")


@pytest.fixture
def admin_browser(admin: Any) -> Client:
    return _browser(admin)


def post(browser: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    """POSTs as a browser does, with the CSRF token of the page's cookie."""
    if "csrftoken" not in browser.cookies:
        browser.get(USERS)
    token = browser.cookies["csrftoken"].value
    return browser.post(url, {**(data or {}), "csrfmiddlewaretoken": token})


def _field(html: str, name: str) -> str:
    """The HTML of the form field (its container) holding the input named ``name``."""
    for chunk in re.split(r'(?=<(?:div|fieldset) class="field)', html):
        if f'name="{name}"' in chunk:
            return chunk
    raise AssertionError(f"no field {name!r} on the page")


def _edit_data(user: Any, **overrides: Any) -> dict[str, Any]:
    """The edit form as the page fills it for ``user``, with ``overrides``."""
    profile = RepProfile.objects.filter(user=user).first()
    data: dict[str, Any] = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": profile.role if profile else Role.REP,
        "teams": [t.pk for t in Team.objects.filter(members=user)],
        "capacity": "" if not profile or profile.capacity is None else profile.capacity,
        "availability": profile.availability if profile else Availability.AVAILABLE,
        "is_active": "on" if user.is_active else "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value not in ("", None)}


def _profile(user: Any) -> RepProfile:
    return RepProfile.objects.get(user=user)


def _ticket(result: Any) -> Ticket:
    return Ticket.objects.get(pk=result.message.ticket_id)


def _invite_link(html: str) -> str:
    match = re.search(r'data-testid="invite-link">([^<]+)<', html)
    assert match, "no set-password link on the page"
    return match.group(1).replace("http://testserver", "")


# --- Access ---------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in_and_reps_get_403() -> None:
    bob = rep("bob")
    support = team("Support", bob)
    pages = [USERS, ADD_USER, f"{USERS}{bob.pk}/", TEAMS, f"{TEAMS}{support.pk}/"]
    pages.append(f"{TEAMS}{support.pk}/delete/")
    for url in pages:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/")

    browser = Client()
    browser.force_login(rep("carol"))
    for url in pages:
        assert browser.get(url).status_code == 403, url
    assert browser.post(ADD_USER, {"username": "mallory", "role": "ADMIN"}).status_code == 403
    assert browser.post(f"{USERS}{bob.pk}/", {"role": "ADMIN"}).status_code == 403
    assert browser.post(f"{TEAMS}{support.pk}/delete/").status_code == 403
    assert browser.post(TEAMS, {"name": "Rogue"}).status_code == 403
    assert not User.objects.filter(username="mallory").exists()
    assert _profile(bob).role == Role.REP
    assert list(Team.objects.values_list("name", flat=True)) == ["Support"]


def test_the_services_refuse_anyone_but_an_admin() -> None:
    carol = rep("carol")
    with pytest.raises(PermissionDenied):
        user_create(actor=carol, username="mallory")
    with pytest.raises(PermissionDenied):
        team_create(actor=carol, name="Rogue")
    assert not User.objects.filter(username="mallory").exists()
    assert not Team.objects.exists()


# --- The users list -------------------------------------------------------------------------


def test_the_list_shows_each_users_role_teams_availability_capacity_and_open_tickets(
    admin_browser: Client,
) -> None:
    bob = rep("bob", first_name="Bob", last_name="Baker", capacity=5)
    carol = rep("carol", availability=Availability.AWAY)
    carol.is_active = False
    carol.save()
    RepProfile.objects.filter(user=carol).update(role=RepProfile.Role.ADMIN)
    team("Support", bob)
    team("Billing", bob, carol)
    account = account_with_rule(users=(bob,))
    for _ in range(3):
        inbound(account)
    Ticket.objects.filter(pk=Ticket.objects.filter(owner=bob).first().pk).update(
        state=TicketState.CLOSED
    )

    html = admin_browser.get(USERS).content.decode()

    bob_row = re.search(rf'<tr data-user-id="{bob.pk}">(.*?)</tr>', html, re.S).group(1)
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td>(.*?)</td>", bob_row, re.S)
    ]
    assert cells[:8] == [
        "Bob Baker bob",
        "bob@example.com",
        "Rep",
        "Billing, Support",
        "Available",
        "5",
        "2",
        "Active",
    ]
    carol_row = re.search(rf'<tr data-user-id="{carol.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "Away" in carol_row
    assert "No limit" in carol_row
    assert "Deactivated" in carol_row
    assert "Admin" not in carol_row  # a deactivated admin is refused everywhere: no badge
    admin_row = re.search(r'<tr data-user-id="\d+">(.*?)</tr>', html, re.S).group(1)
    assert "Ada Admin" in admin_row  # active users first, by username
    assert '<span class="badge">Admin</span>' in admin_row
    assert 'aria-current="page">Users</a>' in html


@pytest.mark.parametrize("users", [1, 20])
def test_the_list_costs_the_same_queries_for_1_and_20_users(
    admin_browser: Client, django_assert_num_queries: Any, users: int
) -> None:
    support, billing = team("Support"), team("Billing")
    reps = [rep(capacity=3) for _ in range(users)]
    for member in reps:
        support.members.add(member)
        billing.members.add(member)
    account = account_with_rule(users=tuple(reps))
    for _ in range(users):
        inbound(account)

    admin_browser.get(USERS)  # the presence write of the first request (throttled after)
    # Session, user, admin role; then users with profiles and open tickets; their teams.
    with django_assert_num_queries(5):
        response = admin_browser.get(USERS)
    assert response.content.decode().count('<tr data-user-id="') == users + 1


# --- Adding a user --------------------------------------------------------------------------


def test_adding_a_user_stores_them_without_a_password_and_shows_a_one_time_link(
    admin: Any, admin_browser: Client, django_capture_on_commit_callbacks: Any, mailoutbox: Any
) -> None:
    support = team("Support")
    form = admin_browser.get(ADD_USER).content.decode()
    assert 'value="AWAY"' in _field(form, "availability")
    assert "checked" in _field(form, "availability").split('value="AWAY"')[1].split(">")[0]

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(
            admin_browser,
            ADD_USER,
            {
                "username": "bob",
                "first_name": "Bob",
                "last_name": "Baker",
                "email": "bob@example.com",
                "role": "REP",
                "teams": [support.pk],
                "capacity": "4",
                "availability": "AWAY",
            },
        )
        assert mailoutbox == []  # nothing leaves before commit

    assert response.status_code == 200
    html = response.content.decode()
    link = _invite_link(html)
    assert link.startswith("/account/set-password/")
    assert "It is emailed to bob@example.com" in html
    bob = User.objects.get(username="bob")
    assert (bob.first_name, bob.last_name, bob.email, bob.is_active) == (
        "Bob",
        "Baker",
        "bob@example.com",
        True,
    )
    assert not bob.has_usable_password()
    profile = _profile(bob)
    assert (profile.role, profile.capacity, profile.availability) == (
        Role.REP,
        4,
        Availability.AWAY,
    )
    assert list(support.members.all()) == [bob]

    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["bob@example.com"]
    assert link in mailoutbox[0].body
    assert "bob" in mailoutbox[0].body

    entry = AuditEntry.objects.get(target="User bob")
    assert entry.actor == admin
    assert entry.action == AuditEntry.Action.EDIT
    assert entry.changes["created"] is True
    assert entry.changes["teams"] == ["Support"]
    assert "password" not in str(entry.changes).lower()


def test_without_an_email_the_link_is_only_shown(
    admin_browser: Client, django_capture_on_commit_callbacks: Any, mailoutbox: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            admin_browser, ADD_USER, {"username": "dora", "role": "ADMIN", "availability": "AWAY"}
        )
    assert "has no email address here" in response.content.decode()
    assert mailoutbox == []
    assert _profile(User.objects.get(username="dora")).role == Role.ADMIN


def test_the_invite_link_sets_a_password_once_and_the_user_can_sign_in(
    admin_browser: Client,
) -> None:
    response = post(
        admin_browser, ADD_USER, {"username": "bob", "role": "REP", "availability": "AVAILABLE"}
    )
    link = _invite_link(response.content.decode())
    visitor = Client(enforce_csrf_checks=True)

    page = visitor.get(link, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Choose your password" in html
    assert "<strong>bob</strong>" in html
    form_url = page.redirect_chain[-1][0]

    token = visitor.cookies["csrftoken"].value
    mismatch = visitor.post(
        form_url,
        {
            "new_password1": "a-long-pass-phrase",
            "new_password2": "other",
            "csrfmiddlewaretoken": token,
        },
    )
    assert "password fields didn" in _field(mismatch.content.decode(), "new_password2")
    assert not User.objects.get(username="bob").has_usable_password()

    done = visitor.post(
        form_url,
        {
            "new_password1": "a-long-pass-phrase",
            "new_password2": "a-long-pass-phrase",
            "csrfmiddlewaretoken": token,
        },
    )
    assert done.status_code == 302
    assert done["Location"] == "/account/set-password/done/"
    assert "Sign in" in visitor.get(done["Location"]).content.decode()

    signed_in = Client().post("/login/", {"username": "bob", "password": "a-long-pass-phrase"})
    assert signed_in.status_code == 302
    assert Client().login(username="bob", password="a-long-pass-phrase")

    again = Client().get(link, follow=True).content.decode()
    assert 'data-testid="invalid-link"' in again


def test_adding_a_user_with_errors_shows_them_beside_the_fields_and_stores_nothing(
    admin_browser: Client, mailoutbox: Any
) -> None:
    rep("bob", email="bob@example.com")
    before = (User.objects.count(), AuditEntry.objects.count(), RepProfile.objects.count())

    response = post(
        admin_browser,
        ADD_USER,
        {
            "username": "BOB",
            "email": "BOB@example.com",
            "role": "REP",
            "capacity": "-1",
            "availability": "AWAY",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "greater than or equal to 0" in _field(html, "capacity")
    assert "has-error" in _field(html, "capacity")

    # The form's own checks pass; the service's (unique names) then go beside the fields.
    response = post(
        admin_browser,
        ADD_USER,
        {"username": "BOB", "email": "BOB@example.com", "role": "REP", "availability": "AWAY"},
    )
    html = response.content.decode()
    assert "already exists" in _field(html, "username")
    assert "Another user has this email" in _field(html, "email")
    assert 'value="BOB@example.com"' in html  # what was typed is kept

    response = post(
        admin_browser, ADD_USER, {"username": "no spaces!", "role": "BOSS", "availability": "AWAY"}
    )
    html = response.content.decode()
    assert "has-error" in _field(html, "username")
    assert "Select a valid choice" in _field(html, "role")

    assert (User.objects.count(), AuditEntry.objects.count(), RepProfile.objects.count()) == before
    assert mailoutbox == []


# --- Editing a user -------------------------------------------------------------------------


def test_edits_persist_and_are_audited(admin: Any, admin_browser: Client) -> None:
    bob = rep("bob", capacity=2)
    support, billing = team("Support", bob), team("Billing")
    form = admin_browser.get(f"{USERS}{bob.pk}/").content.decode()
    assert "Edit bob" in form
    assert 'value="2"' in _field(form, "capacity")

    response = post(
        admin_browser,
        f"{USERS}{bob.pk}/",
        _edit_data(
            bob,
            first_name="Bob",
            role="ADMIN",
            teams=[billing.pk],
            capacity="7",
            availability="AWAY",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == USERS

    bob.refresh_from_db()
    profile = _profile(bob)
    assert bob.first_name == "Bob"
    assert (profile.role, profile.capacity, profile.availability) == (
        Role.ADMIN,
        7,
        Availability.AWAY,
    )
    assert list(Team.objects.filter(members=bob)) == [billing]
    assert not support.members.exists()
    entry = AuditEntry.objects.get(target="User bob")
    assert entry.actor == admin
    assert entry.changes["role"] == ["REP", "ADMIN"]
    assert entry.changes["teams"] == {"added": ["Billing"], "removed": ["Support"]}
    assert entry.changes["capacity"] == [2, 7]

    # Blank capacity: no limit.
    post(admin_browser, f"{USERS}{bob.pk}/", _edit_data(bob, capacity=""))
    assert _profile(bob).capacity is None


def test_a_user_without_a_profile_can_be_edited() -> None:
    admin = User.objects.create_user("root", is_staff=True)
    bob = User.objects.create_user("bob")
    browser = _browser(admin)
    assert browser.get(USERS).status_code == 200

    post(browser, f"{USERS}{bob.pk}/", _edit_data(bob, capacity="3"))
    assert _profile(bob).capacity == 3


def test_an_admin_cannot_remove_their_own_admin_role_or_deactivate_themselves(
    admin: Any, admin_browser: Client
) -> None:
    page = admin_browser.get(f"{USERS}{admin.pk}/").content.decode()
    assert "This is you" in page

    response = post(
        admin_browser,
        f"{USERS}{admin.pk}/",
        _edit_data(admin, role="REP", is_active="", capacity="9"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "You cannot remove your own admin role" in _field(html, "role")
    assert "You cannot deactivate yourself" in _field(html, "is_active")

    admin.refresh_from_db()
    assert admin.is_active
    assert _profile(admin).role == Role.ADMIN
    assert _profile(admin).capacity is None  # nothing of the refused edit is stored
    assert not AuditEntry.objects.exists()

    # Another admin may demote them.
    other = _browser(_admin("grace"))
    post(other, f"{USERS}{admin.pk}/", _edit_data(admin, role="REP"))
    assert _profile(admin).role == Role.REP


def test_deactivating_a_user_stops_sign_in_and_hands_their_open_tickets_back_to_routing(
    admin: Any, admin_browser: Client, django_capture_on_commit_callbacks: Any
) -> None:
    bob = rep("bob")
    carol = rep("carol", availability=Availability.AWAY)
    support = team("Support", bob, carol)
    routed = account_with_rule(teams=(support,))
    manual = account_with_rule(mode=RoutingRule.Mode.NONE, auto_assign=False)
    first, second = _ticket(inbound(routed)), _ticket(inbound(routed))
    by_hand = _ticket(inbound(manual))
    Ticket.objects.filter(pk=by_hand.pk).update(owner=bob)
    assert set(Ticket.objects.filter(owner=bob)) == {first, second, by_hand}

    bobs_browser = _browser(bob)
    assert bobs_browser.get("/settings/notifications/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            admin_browser,
            f"{USERS}{bob.pk}/",
            _edit_data(bob, is_active="", availability="AVAILABLE"),
        )
    assert response.status_code == 302
    assert bobs_browser.get("/settings/notifications/").status_code == 302  # signed out

    bob.refresh_from_db()
    assert not bob.is_active
    assert _profile(bob).availability == Availability.AWAY
    assert list(Team.objects.filter(members=bob)) == [support]  # kept for a reactivation
    assert not Client().login(username="bob", password="password")
    assert not Ticket.objects.filter(owner=bob).exists()
    # Carol is Away: the routed tickets wait in the backlog; the manual one is unassigned.
    assert set(WaitingTicket.objects.values_list("ticket_id", flat=True)) == {first.pk, second.pk}
    latest = AssignmentDecision.objects.filter(ticket=first).first()
    assert latest.outcome == AssignmentDecision.Outcome.WAITING
    assert latest.summary.startswith("bob was deactivated")
    assert (
        AssignmentDecision.objects.filter(ticket=by_hand).first().outcome
        == AssignmentDecision.Outcome.UNASSIGNED
    )
    deactivation = AuditEntry.objects.get(action=AuditEntry.Action.DEACTIVATE)
    assert deactivation.target == "User bob"
    assert deactivation.changes["openTicketsReleased"] == 3

    # Carol becomes Available: the backlog goes to her, never to bob.
    with django_capture_on_commit_callbacks(execute=True):
        post(admin_browser, f"{USERS}{carol.pk}/", _edit_data(carol, availability="AVAILABLE"))
    assert set(Ticket.objects.filter(owner=carol)) == {first, second}
    assert not WaitingTicket.objects.exists()
    assert Ticket.objects.get(pk=by_hand.pk).owner is None


def test_released_tickets_go_at_once_to_an_eligible_rep(
    admin_browser: Client, django_capture_on_commit_callbacks: Any
) -> None:
    bob, carol = rep("bob"), rep("carol")
    account = account_with_rule(users=(bob,))
    ticket = _ticket(inbound(account))
    assert ticket.owner == bob
    RoutingRule.objects.get(channel_account=account).users.add(carol)

    with django_capture_on_commit_callbacks(execute=True):
        post(admin_browser, f"{USERS}{bob.pk}/", _edit_data(bob, is_active=""))

    assert Ticket.objects.get(pk=ticket.pk).owner == carol


def test_reactivating_restores_sign_in_and_the_chosen_availability(
    admin_browser: Client,
) -> None:
    bob = rep("bob")
    post(admin_browser, f"{USERS}{bob.pk}/", _edit_data(bob, is_active=""))
    bob.refresh_from_db()
    assert not bob.is_active

    post(
        admin_browser,
        f"{USERS}{bob.pk}/",
        _edit_data(bob, is_active="on", availability="AVAILABLE"),
    )
    bob.refresh_from_db()
    assert bob.is_active
    assert _profile(bob).availability == Availability.AVAILABLE
    assert Client().login(username="bob", password="password")
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.REACTIVATE, target="User bob"
    ).exists()


def test_a_new_set_password_link_for_an_existing_user(admin_browser: Client) -> None:
    bob = rep("bob")
    response = post(admin_browser, f"{USERS}{bob.pk}/invite/")
    assert response.status_code == 200
    link = _invite_link(response.content.decode())
    page = Client().get(link, follow=True).content.decode()
    assert "Choose your password" in page

    # A deactivated user's links stop working, and no new one is made.
    post(admin_browser, f"{USERS}{bob.pk}/", _edit_data(bob, is_active=""))
    assert 'data-testid="invalid-link"' in Client().get(link, follow=True).content.decode()
    refused = post(admin_browser, f"{USERS}{bob.pk}/invite/")
    assert refused.status_code == 302
    assert "reactivate them first" in admin_browser.get(refused["Location"]).content.decode()


def test_only_a_superuser_manages_staff_and_superuser_accounts(
    admin: Any, admin_browser: Client
) -> None:
    """A help desk admin must not take over an account that reaches Django's admin site."""
    root = User.objects.create_superuser("root", "root@example.com", "irrelevant")
    assert post(admin_browser, f"{USERS}{root.pk}/invite/").status_code == 403
    edit = _edit_data(root, email="mine@example.com", is_active="")
    assert post(admin_browser, f"{USERS}{root.pk}/", edit).status_code == 403
    root.refresh_from_db()
    assert (root.email, root.is_active) == ("root@example.com", True)
    assert not AuditEntry.objects.filter(target="User root").exists()

    other_root = User.objects.create_superuser("other", "other@example.com", "irrelevant")
    assert user_invite(actor=other_root, user=root).user == root
    with pytest.raises(PermissionDenied):
        user_invite(actor=admin, user=User.objects.create_user("staffer", is_staff=True))


def test_a_new_available_user_takes_the_tickets_waiting_for_their_team(
    admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    support = team("Support")
    ticket = _ticket(inbound(account_with_rule(teams=(support,))))
    assert WaitingTicket.objects.filter(ticket=ticket).exists()

    with django_capture_on_commit_callbacks(execute=True):
        invite = user_create(
            actor=admin,
            username="newbie",
            team_ids=[support.pk],
            availability=Availability.AVAILABLE,
        )

    assert Ticket.objects.get(pk=ticket.pk).owner == invite.user
    assert not WaitingTicket.objects.exists()


# --- Teams ----------------------------------------------------------------------------------


def test_creating_renaming_and_setting_members_of_a_team(admin: Any, admin_browser: Client) -> None:
    bob, carol = rep("bob"), rep("carol")

    response = post(admin_browser, TEAMS, {"name": "  Support  "})
    support = Team.objects.get(name="Support")
    assert response["Location"] == f"{TEAMS}{support.pk}/"

    response = post(
        admin_browser,
        f"{TEAMS}{support.pk}/",
        {"name": "Customer care", "members": [bob.pk, carol.pk]},
    )
    assert response.status_code == 302
    support.refresh_from_db()
    assert support.name == "Customer care"
    assert set(support.members.all()) == {bob, carol}

    post(admin_browser, f"{TEAMS}{support.pk}/", {"name": "Customer care", "members": [carol.pk]})
    assert list(support.members.all()) == [carol]

    html = admin_browser.get(TEAMS).content.decode()
    row = re.search(rf'<tr data-team-id="{support.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "Customer care" in row
    assert "<td>1</td>" in row
    edits = AuditEntry.objects.filter(actor=admin).order_by("id")
    assert [entry.changes for entry in edits] == [
        {"created": True, "members": []},
        {
            "name": ["Support", "Customer care"],
            "members": {"added": ["bob", "carol"], "removed": []},
        },
        {"members": {"added": [], "removed": ["bob"]}},
    ]


def test_team_errors_are_shown_beside_the_name_and_store_nothing(admin_browser: Client) -> None:
    support = team("Support")
    team("Billing")

    html = post(admin_browser, TEAMS, {"name": "support"}).content.decode()
    assert "A team with this name already exists" in _field(html, "name")
    html = post(admin_browser, TEAMS, {"name": "   "}).content.decode()
    assert "has-error" in _field(html, "name")
    html = post(admin_browser, f"{TEAMS}{support.pk}/", {"name": "BILLING"}).content.decode()
    assert "already exists" in _field(html, "name")
    html = post(
        admin_browser, f"{TEAMS}{support.pk}/", {"name": "Support", "members": [999999]}
    ).content.decode()
    assert "Select a valid choice" in _field(html, "members")

    assert sorted(Team.objects.values_list("name", flat=True)) == ["Billing", "Support"]
    assert not AuditEntry.objects.exists()


def test_a_team_used_by_a_routing_rule_cannot_be_deleted(admin_browser: Client) -> None:
    bob = rep("bob")
    support = team("Support", bob)
    account = account_with_rule(teams=(support,))
    deleted = account_with_rule(teams=(support,))
    deleted.archived = True
    deleted.save()
    name = f"{account.channel.name} · {account.name}"

    page = admin_browser.get(f"{TEAMS}{support.pk}/delete/").content.decode()
    assert 'data-testid="team-in-use"' in page
    assert name in page
    assert deleted.name not in page

    response = post(admin_browser, f"{TEAMS}{support.pk}/delete/")
    assert response.status_code == 409
    assert f"used by the routing of {name}" in response.content.decode()
    assert Team.objects.filter(pk=support.pk).exists()

    # Once its routing names someone else, the team can go; its members stay.
    rule = RoutingRule.objects.get(channel_account=account)
    rule.teams.clear()
    rule.users.add(bob)
    response = post(admin_browser, f"{TEAMS}{support.pk}/delete/")
    assert response.status_code == 302
    assert not Team.objects.filter(pk=support.pk).exists()
    assert User.objects.filter(pk=bob.pk).exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.DELETE)
    assert (entry.target, entry.changes) == ("Team Support", {"members": ["bob"]})


def test_the_list_and_the_delete_check_agree_on_which_routing_uses_a_team() -> None:
    """A rule set to None remembers its teams but assigns through none of them."""
    support, sales = team("Support"), team("Sales")
    account_with_rule(teams=(support,))
    account_with_rule(mode=Mode.NONE, teams=(sales,))

    counts = {row.name: row.rule_count for row in team_list_for_settings()}
    assert counts == {"Sales": 0, "Support": 1}
    assert team_routing_accounts(team_id=sales.pk) == []
    assert len(team_routing_accounts(team_id=support.pk)) == 1


def test_adding_a_member_hands_out_the_tickets_waiting_for_the_team(
    admin_browser: Client, django_capture_on_commit_callbacks: Any
) -> None:
    support = team("Support")
    ticket = _ticket(inbound(account_with_rule(teams=(support,))))
    assert WaitingTicket.objects.filter(ticket=ticket).exists()
    bob = rep("bob")

    with django_capture_on_commit_callbacks(execute=True):
        post(admin_browser, f"{TEAMS}{support.pk}/", {"name": "Support", "members": [bob.pk]})

    assert Ticket.objects.get(pk=ticket.pk).owner == bob
    assert not WaitingTicket.objects.exists()


def test_team_update_replaces_the_members_and_audits_the_difference(
    admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    bob, carol, dan = rep("bob"), rep("carol"), rep("dan")
    support = team("Support", bob, carol)
    account = account_with_rule(teams=(support,))
    RepProfile.objects.filter(user__in=[bob, carol]).update(availability=Availability.AWAY)
    ticket = _ticket(inbound(account))
    assert ticket.owner is None

    with django_capture_on_commit_callbacks(execute=True):
        team_update(actor=admin, team=support, name="Support", member_ids=[carol.pk, dan.pk])

    assert set(support.members.all()) == {carol, dan}
    assert Ticket.objects.get(pk=ticket.pk).owner == dan  # the new member's drain ran
    entry = AuditEntry.objects.get(target="Team Support")
    assert entry.changes == {"members": {"added": ["dan"], "removed": ["bob"]}}
    with pytest.raises(PermissionDenied):
        team_update(actor=bob, team=support, name="Support", member_ids=[])
    assert set(support.members.all()) == {carol, dan}


@pytest.mark.parametrize("teams", [1, 20])
def test_the_teams_list_costs_the_same_queries_for_1_and_20_teams(
    admin_browser: Client, django_assert_num_queries: Any, teams: int
) -> None:
    members = [rep() for _ in range(3)]
    created = [team(f"Team {number:02d}", *members) for number in range(teams)]
    account_with_rule(teams=tuple(created))

    admin_browser.get(TEAMS)  # the presence write of the first request (throttled after)
    # Session, user, admin role; then the teams with their counts.
    with django_assert_num_queries(4):
        response = admin_browser.get(TEAMS)
    html = response.content.decode()
    assert html.count('<tr data-team-id="') == teams
    assert html.count("<td>3</td>") == teams
    assert html.count("1 channel account") == teams
