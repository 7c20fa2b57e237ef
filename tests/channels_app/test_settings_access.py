"""Signing in and out, and who may open the settings pages (admins only)."""

from __future__ import annotations

import pytest
from django.test import Client

from routing.models import RepProfile
from tests.channels_app.oauth_client import user_with_role
from tests.channels_app.settings_helpers import AUDIT_LOG, CHANNELS, post
from tests.factories import ChannelAccountFactory, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    CHANNELS,
    f"{CHANNELS}connect/",
    AUDIT_LOG,
]


@pytest.mark.usefixtures("fast_password_hasher")
def test_signing_in_with_the_form_then_out() -> None:
    user = user_with_role(RepProfile.Role.ADMIN)
    browser = Client(enforce_csrf_checks=True)

    page = browser.get("/login/")
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content

    response = browser.post(
        "/login/",
        {
            "username": user.username,
            "password": "password",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert browser.get(CHANNELS).status_code == 200

    signed_out = post(browser, "/logout/")
    assert signed_out.status_code == 302
    assert signed_out["Location"] == "/login/"
    assert browser.get(CHANNELS).status_code == 302


@pytest.mark.usefixtures("fast_password_hasher")
def test_a_wrong_password_shows_an_error_and_signs_nobody_in() -> None:
    user = user_with_role(RepProfile.Role.ADMIN)
    browser = Client()
    response = browser.post("/login/", {"username": user.username, "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content
    assert "_auth_user_id" not in browser.session


def test_sign_in_returns_to_the_page_asked_for() -> None:
    response = Client().get(CHANNELS)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={CHANNELS}"


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_signed_out_visitors_are_sent_to_sign_in(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_a_rep_gets_a_friendly_403(url: str) -> None:
    browser = Client()
    browser.force_login(user_with_role(RepProfile.Role.REP))
    response = browser.get(url)
    assert response.status_code == 403
    assert b"Only admins can open this page" in response.content


def test_a_rep_cannot_change_an_account() -> None:
    account = ChannelAccountFactory()
    browser = Client()  # CSRF checks off: the refusal is the role's
    browser.force_login(UserFactory())  # no profile: a rep
    for action in ("deactivate", "delete", "reactivate", "edit"):
        response = browser.post(f"{CHANNELS}{account.pk}/{action}/")
        assert response.status_code == 403, action
    account.refresh_from_db()
    assert account.authorized is True
    assert account.archived is False


def test_staff_users_are_admins() -> None:
    browser = Client()
    browser.force_login(UserFactory(is_staff=True))
    assert browser.get(CHANNELS).status_code == 200


def test_posts_without_the_csrf_token_are_refused(admin_browser: Client) -> None:
    account = ChannelAccountFactory()
    response = admin_browser.post(f"{CHANNELS}{account.pk}/deactivate/")
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.authorized is True
