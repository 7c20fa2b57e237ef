"""Installing an app with OAuth 2.0 (API.md "Installing an app (OAuth 2.0)", SPEC C7), driven
over HTTP as an external app and an admin's browser would: the consent page, the code exchange,
API calls with the access token, refresh, scopes, expiry, the token endpoint's errors, and how
tokens are stored. Uninstalling and re-authorising: ``test_installs.py``."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from channels_app.installs import app_redirect_uris_set
from channels_app.models import CustomChannel
from channels_app.services import app_create
from helpdesk.authentication import ALL_SCOPES
from routing.models import RepProfile
from tests.channels_app.oauth_client import (
    CHANNEL_BODY,
    CHANNELS,
    ERROR_SHAPE,
    READ,
    REDIRECT_URI,
    WRITE,
    OAuthApp,
    api,
    approve,
    assert_token_error,
    authorize_url,
    consent_page,
    exchange,
    form_inputs,
    install,
    refresh,
    token_request,
    user_with_role,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- the whole flow -------------------------------------------------------------------------


def test_install_exchange_call_refresh_as_an_external_app(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    # The admin sees the consent page: the app's name, logo and the scopes asked.
    page = consent_page(admin_browser, authorize_url(oauth_app))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme SMS" in html
    assert "https://bridge.example.com/logo.png" in html
    for scope in ALL_SCOPES:
        assert scope in html
    assert "Approve" in html
    assert "Cancel" in html

    # Approving redirects to the registered URI with a code and the app's state.
    query = approve(admin_browser, oauth_app)
    assert query["state"] == ["opaque-state-123"]
    code = query["code"][0]

    exchanged = exchange(oauth_app, code)
    assert exchanged.status_code == 200
    tokens = exchanged.json()
    assert {"access_token", "refresh_token", "expires_in", "token_type"} <= set(tokens)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 1800
    assert exchanged["Cache-Control"] == "no-store"

    # The same code a second time is refused.
    assert_token_error(exchange(oauth_app, code), 400, "invalid_grant")

    # The access token calls the API as the app.
    created = api(tokens["access_token"]).post(CHANNELS, CHANNEL_BODY, format="json")
    assert created.status_code == 201, created.content
    assert CustomChannel.objects.get(pk=int(created.json()["id"])).app_id == oauth_app.app.pk
    listed = api(tokens["access_token"]).get(CHANNELS)
    assert [row["name"] for row in listed.json()["results"]] == ["SMS"]

    # Refresh: new tokens; the old refresh token (and its access token) stop working.
    refreshed = refresh(oauth_app, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    renewed = refreshed.json()
    assert renewed["token_type"] == "bearer"
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert renewed["access_token"] != tokens["access_token"]
    assert api(renewed["access_token"]).get(CHANNELS).status_code == 200
    assert api(tokens["access_token"]).get(CHANNELS).status_code == 401
    assert_token_error(refresh(oauth_app, tokens["refresh_token"]), 400, "invalid_grant")

    oauth_app.app.refresh_from_db()
    assert oauth_app.app.is_installed
    assert oauth_app.app.authorized_at is not None


def test_replaying_a_rotated_refresh_token_revokes_the_whole_chain(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    tokens = install(admin_browser, oauth_app)
    renewed = refresh(oauth_app, tokens["refresh_token"]).json()

    assert_token_error(refresh(oauth_app, tokens["refresh_token"]), 400, "invalid_grant")

    assert api(renewed["access_token"]).get(CHANNELS).status_code == 401
    assert_token_error(refresh(oauth_app, renewed["refresh_token"]), 400, "invalid_grant")


# --- the consent page -------------------------------------------------------------------------


def test_signed_out_user_is_sent_to_sign_in_and_back(oauth_app: OAuthApp) -> None:
    browser = Client()
    url = authorize_url(oauth_app, response_type="code")

    response = browser.get(url)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/login/"
    assert parse_qs(location.query)["next"] == [url]


def test_a_rep_cannot_approve(oauth_app: OAuthApp) -> None:
    browser = Client()
    browser.force_login(user_with_role(RepProfile.Role.REP))

    page = browser.get(authorize_url(oauth_app, response_type="code"))
    forged = browser.post(
        "/oauth/authorize",
        {
            "client_id": oauth_app.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": " ".join(ALL_SCOPES),
            "state": "s",
            "response_type": "code",
            "allow": "Approve",
        },
    )

    assert page.status_code == 403
    assert "Only an admin can install apps" in page.content.decode()
    assert forged.status_code == 403
    assert not Grant.objects.exists()
    oauth_app.app.refresh_from_db()
    assert oauth_app.app.authorized_at is None


@pytest.mark.parametrize("role_or_flag", ["staff", "superuser", RepProfile.Role.ADMIN], ids=str)
def test_admins_and_staff_may_approve(oauth_app: OAuthApp, role_or_flag: str) -> None:
    if role_or_flag in ("staff", "superuser"):
        user = UserFactory(is_staff=True, is_superuser=role_or_flag == "superuser")
        user.save()
    else:
        user = user_with_role(role_or_flag)
    browser = Client()
    browser.force_login(user)

    assert "code" in approve(browser, oauth_app)


def test_a_wrong_redirect_uri_is_refused_without_redirecting(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    for redirect_uri in (
        "https://evil.example.com/oauth/callback",
        REDIRECT_URI + "/more",
        REDIRECT_URI.replace("https", "http"),
    ):
        page = consent_page(admin_browser, authorize_url(oauth_app, redirect_uri=redirect_uri))

        assert page.status_code == 400, redirect_uri
        assert "Location" not in page
        assert "Cannot install the app" in page.content.decode()
    assert not Grant.objects.exists()


@pytest.mark.parametrize("state", [None, ""])
def test_a_missing_state_is_refused_with_a_page(
    oauth_app: OAuthApp, admin_browser: Client, state: str | None
) -> None:
    page = consent_page(admin_browser, authorize_url(oauth_app, state=state))

    assert page.status_code == 400
    assert "Location" not in page
    assert "state" in page.content.decode()


def test_a_missing_scope_or_an_unknown_client_is_refused_with_a_page(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    no_scope = consent_page(admin_browser, authorize_url(oauth_app, scope=None))
    unknown = consent_page(admin_browser, authorize_url(oauth_app, client_id="nope"))

    assert no_scope.status_code == 400
    assert unknown.status_code == 400
    assert "Location" not in no_scope
    assert "Location" not in unknown


def test_an_unknown_scope_is_reported_to_the_app(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    page = consent_page(admin_browser, authorize_url(oauth_app, scope=f"{READ} crm.objects.read"))

    # RFC 6749 4.1.2.1: the redirect URI is valid, so the error goes back to the app.
    assert page.status_code == 302
    query = parse_qs(urlsplit(page["Location"]).query)
    assert query["error"] == ["invalid_scope"]
    assert query["state"] == ["opaque-state-123"]


def test_cancel_redirects_with_access_denied_and_installs_nothing(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    page = consent_page(admin_browser, authorize_url(oauth_app))
    inputs = form_inputs(page.content.decode())

    cancelled = admin_browser.post("/oauth/authorize", inputs)  # no "allow": the Cancel button

    assert cancelled.status_code == 302
    query = parse_qs(urlsplit(cancelled["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["opaque-state-123"]
    assert not Grant.objects.exists()
    oauth_app.app.refresh_from_db()
    assert oauth_app.app.authorized_at is None


def test_the_consent_page_cannot_be_skipped_with_approval_prompt_auto(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    install(admin_browser, oauth_app)  # live tokens of this admin for this app

    page = consent_page(admin_browser, authorize_url(oauth_app, approval_prompt="auto"))

    assert page.status_code == 200
    assert "Approve" in page.content.decode()
    assert Grant.objects.count() == 0


def test_the_consent_form_needs_its_csrf_token(oauth_app: OAuthApp, admin_browser: Client) -> None:
    page = consent_page(admin_browser, authorize_url(oauth_app))
    inputs = form_inputs(page.content.decode())
    inputs.pop("csrfmiddlewaretoken")

    response = admin_browser.post("/oauth/authorize", {**inputs, "allow": "Approve"})

    assert response.status_code == 403
    assert not Grant.objects.exists()


# --- scopes and expiry ------------------------------------------------------------------------


def test_tokens_carry_only_the_approved_scopes(oauth_app: OAuthApp, admin_browser: Client) -> None:
    page = consent_page(admin_browser, authorize_url(oauth_app, scope=READ))
    assert WRITE not in page.content.decode()
    tokens = install(admin_browser, oauth_app, scope=READ)

    assert tokens["scope"].split() == [READ]
    assert api(tokens["access_token"]).get(CHANNELS).status_code == 200
    denied = api(tokens["access_token"]).post(CHANNELS, CHANNEL_BODY, format="json")
    assert denied.status_code == 403
    assert denied.json()["category"] == "FORBIDDEN"
    assert WRITE in denied.json()["message"]
    assert not CustomChannel.objects.exists()

    # A refreshed token keeps exactly the approved scopes.
    renewed = refresh(oauth_app, tokens["refresh_token"]).json()
    assert renewed["scope"].split() == [READ]
    assert (
        api(renewed["access_token"]).post(CHANNELS, CHANNEL_BODY, format="json").status_code == 403
    )


def test_a_conversations_read_token_lists_inboxes_but_not_channels(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    tokens = install(admin_browser, oauth_app, scope="conversations.read")

    assert (
        api(tokens["access_token"]).get("/conversations/v3/conversations/inboxes").status_code
        == 200
    )
    assert api(tokens["access_token"]).get(CHANNELS).status_code == 403


def test_an_expired_access_token_is_401_and_refresh_gives_a_working_one(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    tokens = install(admin_browser, oauth_app)
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))

    expired = api(tokens["access_token"]).get(CHANNELS)

    assert expired.status_code == 401
    assert expired.json()["category"] == "UNAUTHORIZED"
    renewed = refresh(oauth_app, tokens["refresh_token"]).json()
    assert api(renewed["access_token"]).get(CHANNELS).status_code == 200


def test_access_tokens_live_thirty_minutes(oauth_app: OAuthApp, admin_browser: Client) -> None:
    before = timezone.now()
    install(admin_browser, oauth_app)

    token = AccessToken.objects.get()
    assert timedelta(minutes=29) < token.expires - before <= timedelta(minutes=30, seconds=5)


# --- the token endpoint ---------------------------------------------------------------------


def test_a_code_belongs_to_the_app_it_was_issued_to(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    other = app_create(name="Other")
    app_redirect_uris_set(app=other.app, redirect_uris=[REDIRECT_URI])
    code = approve(admin_browser, oauth_app)["code"][0]

    stolen = token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        client_id=other.app.client_id,
        client_secret=other.app.client_secret,
    )

    assert_token_error(stolen, 400, "invalid_grant")
    assert exchange(oauth_app, code).status_code == 200


def test_a_wrong_client_secret_is_refused_without_echoing_it(
    oauth_app: OAuthApp, admin_browser: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = approve(admin_browser, oauth_app)["code"][0]
    wrong_secret = "wrong-" + oauth_app.client_secret

    response = token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        client_id=oauth_app.client_id,
        client_secret=wrong_secret,
    )

    assert_token_error(response, 401, "invalid_client")
    assert response.json()["category"] == "UNAUTHORIZED"
    for secret in (wrong_secret, oauth_app.client_secret, code):
        assert secret not in response.content.decode()
        assert secret not in caplog.text


def test_the_token_flow_logs_no_secret(
    oauth_app: OAuthApp, admin_browser: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = approve(admin_browser, oauth_app)["code"][0]
    tokens = exchange(oauth_app, code).json()
    renewed = refresh(oauth_app, tokens["refresh_token"]).json()
    refresh(oauth_app, tokens["refresh_token"])  # refused
    api(renewed["access_token"]).get(CHANNELS)

    for secret in (
        code,
        oauth_app.client_secret,
        tokens["access_token"],
        tokens["refresh_token"],
        renewed["access_token"],
        renewed["refresh_token"],
    ):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"grant_type": "password", "username": "a", "password": "b"},
        {"grant_type": "client_credentials"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
        {"grant_type": "authorization_code"},
        {"grant_type": "refresh_token"},
        {
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": "nope",
            "client_secret": "x",
        },
    ],
    ids=str,
)
def test_malformed_token_requests_get_an_oauth_error_never_a_5xx(
    oauth_app: OAuthApp, fields: dict[str, str]
) -> None:
    response = token_request(**fields)

    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["error"]
    assert set(body) >= ERROR_SHAPE


def test_the_token_endpoint_accepts_post_only() -> None:
    response = Client().get("/oauth/v1/token")

    assert response.status_code == 405
    assert response.json()["category"] == "VALIDATION_ERROR"


# --- storage ------------------------------------------------------------------------------------


def test_tokens_and_client_secrets_are_not_stored_in_plain_text(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    tokens = install(admin_browser, oauth_app)
    renewed = refresh(oauth_app, tokens["refresh_token"]).json()

    stored_access = list(AccessToken.objects.values_list("token", "token_checksum"))
    stored_refresh = list(RefreshToken.objects.values_list("token", "token_checksum"))
    assert stored_access == [("", hashlib.sha256(renewed["access_token"].encode()).hexdigest())]
    assert {row[0] for row in stored_refresh} == {""}
    assert hashlib.sha256(renewed["refresh_token"].encode()).hexdigest() in {
        row[1] for row in stored_refresh
    }
    application = Application.objects.get()
    assert application.client_secret != oauth_app.client_secret
    identify_hasher(application.client_secret)  # a password hash, not the secret
    assert check_password(oauth_app.client_secret, application.client_secret)
    for plaintext in (*tokens.values(), *renewed.values()):
        if isinstance(plaintext, str) and len(plaintext) > 20:
            assert not AccessToken.objects.filter(token__contains=plaintext).exists()
            assert not RefreshToken.objects.filter(token__contains=plaintext).exists()
