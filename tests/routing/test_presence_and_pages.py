"""Presence (R5), the personal settings page, the availability toggle and the routing admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from routing.availability import presence_connect, presence_disconnect, presence_touch
from routing.middleware import PresenceMiddleware
from routing.models import AssignmentDecision, NotificationKind, NotificationPreference, RepProfile
from routing.selectors import presence_is_online, rep_profile_is_online
from tests.routing.helpers import account_with_rule, inbound, rep

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/settings/notifications/"


def _profile(user) -> RepProfile:
    return RepProfile.objects.get(user=user)


def test_online_means_activity_within_two_minutes_or_a_live_connection():
    now = timezone.now()
    assert presence_is_online(
        last_seen_at=now - timedelta(seconds=119), live_connections=0, now=now
    )
    assert not presence_is_online(
        last_seen_at=now - timedelta(seconds=121), live_connections=0, now=now
    )
    assert presence_is_online(last_seen_at=now - timedelta(minutes=5), live_connections=1, now=now)
    assert not presence_is_online(last_seen_at=None, live_connections=0, now=now)
    # A connection count nobody refreshed for long is a dead process's: not online.
    assert not presence_is_online(
        last_seen_at=now - timedelta(hours=1), live_connections=1, now=now
    )


def test_presence_touch_writes_at_most_once_per_thirty_seconds():
    alice = rep("alice", profile=False)

    assert presence_touch(user=alice) is True
    first_seen = _profile(alice).last_seen_at
    assert presence_touch(user=alice) is False  # throttled
    assert _profile(alice).last_seen_at == first_seen


def test_presence_connect_and_disconnect_keep_a_connection_count():
    alice = rep("alice", profile=False)

    presence_connect(user=alice)
    presence_connect(user=alice)
    presence_disconnect(user=alice)
    assert _profile(alice).live_connections == 1
    presence_disconnect(user=alice)
    presence_disconnect(user=alice)  # never below zero
    profile = _profile(alice)
    assert profile.live_connections == 0
    assert rep_profile_is_online(profile)  # just seen


def test_the_middleware_touches_presence_for_signed_in_reps_only(rf):
    alice = rep("alice")
    middleware = PresenceMiddleware(lambda request: "response")
    request = rf.get("/")
    request.user = alice

    assert middleware(request) == "response"
    assert _profile(alice).last_seen_at is not None

    from django.contrib.auth.models import AnonymousUser

    anonymous = rf.get("/")
    anonymous.user = AnonymousUser()
    assert middleware(anonymous) == "response"


# --- Personal settings ----------------------------------------------------------------------


def test_the_settings_page_needs_a_signed_in_user():
    response = Client().get(SETTINGS_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_settings_page_shows_a_checkbox_per_kind_and_saves_them():
    alice = rep("alice")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    page = client.get(SETTINGS_URL)
    assert page.status_code == 200
    html = page.content.decode()
    for kind in NotificationKind:
        assert f'name="{kind.value}"' in html
        assert kind.label in html
    assert "checked" in html
    token = page.cookies["csrftoken"].value

    response = client.post(
        SETTINGS_URL,
        {NotificationKind.TICKET_ASSIGNED: "on", "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    stored = dict(NotificationPreference.objects.filter(user=alice).values_list("kind", "enabled"))
    assert stored == {
        NotificationKind.TICKET_ASSIGNED: True,
        NotificationKind.NEW_MESSAGE: False,
        NotificationKind.TEAM_TICKET_UNASSIGNED: False,
    }
    assert "saved" in client.get(SETTINGS_URL).content.decode()


def test_the_settings_form_refuses_a_post_without_csrf():
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep("alice"))
    assert client.post(SETTINGS_URL, {}).status_code == 403


def test_a_rep_toggles_their_availability(django_capture_on_commit_callbacks):
    alice = rep("alice")
    client = Client()
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/settings/availability/", {"availability": "AWAY"})

    assert response.status_code == 302
    assert _profile(alice).availability == "AWAY"
    assert 'data-testid="availability">Away' in client.get(SETTINGS_URL).content.decode()


# --- Admin ----------------------------------------------------------------------------------


def test_the_admin_shows_a_decisions_explanation():
    admin_user = rep("boss", is_staff=True, is_superuser=True)
    account = account_with_rule(users=(rep("alice", availability="AWAY"), rep("bob")))
    inbound(account)
    decision = AssignmentDecision.objects.get()
    client = Client()
    client.force_login(admin_user)

    html = client.get(f"/admin/routing/assignmentdecision/{decision.pk}/change/").content.decode()

    assert "Assigned to bob by round robin" in html
    assert "skipped: away" in html
    assert "CHOSEN" in html
    assert client.get("/admin/routing/assignmentdecision/").status_code == 200
    assert client.get("/admin/routing/notification/").status_code == 200
    assert client.get("/admin/routing/waitingticket/").status_code == 200
    assert client.get("/admin/routing/notificationpreference/").status_code == 200


def test_the_admin_sets_availability_through_the_service(django_capture_on_commit_callbacks):
    admin_user = rep("boss", is_staff=True, is_superuser=True)
    alice = rep("alice", availability="AWAY")
    account = account_with_rule(users=(alice,))
    ticket_id = inbound(account).message.ticket_id
    client = Client()
    client.force_login(admin_user)
    profile = _profile(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/routing/repprofile/{profile.pk}/change/",
            {"user": alice.pk, "role": "REP", "availability": "AVAILABLE", "capacity": "2"},
        )

    assert response.status_code == 302, response.content
    profile.refresh_from_db()
    assert (profile.availability, profile.capacity) == ("AVAILABLE", 2)
    from tickets.models import Ticket

    assert Ticket.objects.get(pk=ticket_id).owner_id == alice.pk  # the backlog was drained
