"""Installation state (SPEC C7): uninstalling revokes every token and hides the app's channels
from the connect wizard; re-authorising (the consent page again) brings the same channels and
accounts back; static tokens keep working; ``create_app --redirect-uri``."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from oauth2_provider.models import Application

from channels_app.installs import app_uninstall
from channels_app.models import App, ChannelAccount, CustomChannel
from channels_app.selectors import channel_list_for_connect_wizard
from channels_app.services import app_create, token_create
from tests.channels_app.oauth_client import (
    CHANNEL_BODY,
    CHANNELS,
    READ,
    REDIRECT_URI,
    OAuthApp,
    api,
    approve,
    assert_token_error,
    authorize_url,
    consent_page,
    exchange,
    install,
    refresh,
)
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db


# --- uninstall and re-authorise --------------------------------------------------------------


def test_uninstall_revokes_every_token_and_hides_the_channels_until_reauthorised(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    tokens = install(admin_browser, oauth_app)
    created = api(tokens["access_token"]).post(CHANNELS, CHANNEL_BODY, format="json")
    channel = CustomChannel.objects.get(pk=int(created.json()["id"]))
    account = ChannelAccountFactory(channel=channel)
    unused_code = approve(admin_browser, oauth_app)["code"][0]
    assert list(channel_list_for_connect_wizard()) == [channel]

    app_uninstall(app=oauth_app.app)

    for token in (tokens["access_token"], oauth_app.static_token):
        response = api(token).get(CHANNELS)
        assert response.status_code == 401
        assert response.json()["category"] == "UNAUTHORIZED"
    assert_token_error(refresh(oauth_app, tokens["refresh_token"]), 400, "invalid_grant")
    assert_token_error(exchange(oauth_app, unused_code), 400, "invalid_grant")
    assert list(channel_list_for_connect_wizard()) == []
    assert ChannelAccount.objects.select_related("channel__app").get(pk=account.pk).active is False
    oauth_app.app.refresh_from_db()
    assert not oauth_app.app.is_installed
    assert oauth_app.app.uninstalled_at is not None

    # Re-authorise: the consent again; new tokens work, the same channel and account return.
    again = install(admin_browser, oauth_app)

    listed = api(again["access_token"]).get(CHANNELS)
    assert [row["id"] for row in listed.json()["results"]] == [str(channel.pk)]
    accounts = api(again["access_token"]).get(f"{CHANNELS}/{channel.pk}/channel-accounts")
    assert [(row["id"], row["active"]) for row in accounts.json()["results"]] == [
        (str(account.pk), True)
    ]
    assert list(channel_list_for_connect_wizard()) == [channel]
    assert CustomChannel.objects.count() == 1
    assert ChannelAccount.objects.count() == 1
    # What the uninstall revoked stays revoked.
    assert api(tokens["access_token"]).get(CHANNELS).status_code == 401
    assert api(oauth_app.static_token).get(CHANNELS).status_code == 401


def test_reauthorising_an_installed_app_repeats_the_consent_and_keeps_its_tokens(
    oauth_app: OAuthApp, admin_browser: Client
) -> None:
    first = install(admin_browser, oauth_app)
    oauth_app.app.refresh_from_db()
    installed_at = oauth_app.app.installed_at

    page = consent_page(admin_browser, authorize_url(oauth_app))
    assert "installed already" in page.content.decode()
    second = install(admin_browser, oauth_app)

    for token in (first["access_token"], second["access_token"], oauth_app.static_token):
        assert api(token).get(CHANNELS).status_code == 200
    oauth_app.app.refresh_from_db()
    assert oauth_app.app.installed_at == installed_at


def test_static_tokens_keep_working_with_their_scopes(oauth_app: OAuthApp) -> None:
    read_only, _ = token_create(app=oauth_app.app, name="read", scopes=[READ])

    assert (
        api(oauth_app.static_token).post(CHANNELS, CHANNEL_BODY, format="json").status_code == 201
    )
    assert api(read_only).get(CHANNELS).status_code == 200
    assert api(read_only).post(CHANNELS, CHANNEL_BODY, format="json").status_code == 403


def test_the_connect_wizard_lists_installed_apps_channels_only() -> None:
    installed = app_create(name="Installed").app
    uninstalled = app_create(name="Gone").app
    shown = CustomChannel.objects.create(app=installed, name="B shown", signing_secret="s")
    CustomChannel.objects.create(
        app=installed, name="A archived", signing_secret="s", archived=True
    )
    CustomChannel.objects.create(app=uninstalled, name="C hidden", signing_secret="s")
    app_uninstall(app=uninstalled)

    assert list(channel_list_for_connect_wizard()) == [shown]


# --- create_app ---------------------------------------------------------------------------------


def test_create_app_with_redirect_uris_prints_the_client_id_and_installs_with_oauth(
    admin_browser: Client,
) -> None:
    out = StringIO()
    call_command(
        "create_app",
        "Acme SMS",
        "--json",
        "--redirect-uri",
        REDIRECT_URI,
        "--redirect-uri",
        "http://localhost:3000/callback",
        stdout=out,
        stderr=StringIO(),
    )

    printed = json.loads(out.getvalue())
    assert set(printed) == {"appId", "clientId", "clientSecret", "accessToken", "developerApiKey"}
    app = App.objects.get(pk=int(printed["appId"]))
    assert app.is_installed
    assert app.oauth_application is not None
    assert app.oauth_application.redirect_uris.split() == [
        REDIRECT_URI,
        "http://localhost:3000/callback",
    ]
    oauth = OAuthApp(
        app=app,
        client_id=printed["clientId"],
        client_secret=printed["clientSecret"],
        static_token=printed["accessToken"],
    )
    tokens = install(admin_browser, oauth)
    assert (
        api(tokens["access_token"]).post(CHANNELS, CHANNEL_BODY, format="json").status_code == 201
    )
    assert api(oauth.static_token).get(CHANNELS).status_code == 200


@pytest.mark.parametrize(
    "redirect_uri", ["not a url", "ftp://bridge.example.com/cb", "https://b.example.com/cb#x"]
)
def test_create_app_refuses_a_bad_redirect_uri_and_creates_nothing(redirect_uri: str) -> None:
    err = StringIO()
    with pytest.raises(SystemExit):
        call_command(
            "create_app",
            "Bad",
            "--json",
            "--redirect-uri",
            redirect_uri,
            stdout=StringIO(),
            stderr=err,
        )

    assert err.getvalue()
    assert not App.objects.exists()
    assert not Application.objects.exists()
