"""The connect wizard (SPEC C2, C3) end to end in an admin's browser: with the channel's
credential fields, and through the app's own page with a staging token completed by the API."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from channels_app.models import AuditEntry, ChannelAccount, StagingToken
from helpdesk.encryption import decrypt_text
from routing.models import RoutingRule, Team
from tests.channels_app.settings_helpers import CHANNELS, credentials_channel, post, routing_data
from tests.conftest import make_app_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONNECT = f"{CHANNELS}connect/"


def test_the_picker_lists_installed_apps_channels_as_cards(admin_browser: Client) -> None:
    channel = credentials_channel()
    hidden = credentials_channel(name="Uninstalled")
    hidden.app.installed_at = None
    hidden.app.save()

    html = admin_browser.get(CONNECT).content.decode()

    assert "Connect a new channel" in html
    assert f"Continue with {channel.name}" in html
    assert "Text messages" in html
    assert "Uninstalled" not in html
    assert "Can't find your channel?" in html


def test_the_picker_explains_when_no_channel_is_installed(admin_browser: Client) -> None:
    html = admin_browser.get(CONNECT).content.decode()
    assert 'data-testid="no-channels"' in html
    assert "Make sure its app is installed, or re-authorize the app" in html


def test_connecting_with_credentials_and_specific_users_and_teams(admin_browser: Client) -> None:
    channel = credentials_channel()
    alex = UserFactory(first_name="Alex")
    team = Team.objects.create(name="Support")

    start = post(admin_browser, f"{CONNECT}{channel.pk}/")
    assert start.status_code == 302
    form = admin_browser.get(start["Location"])
    html = form.content.decode()
    assert "Account name" in html
    assert 'type="password" name="credential__api_key"' in html
    assert "From your dashboard" in html
    assert '<select name="credential__region"' in html

    step = post(
        admin_browser,
        start["Location"],
        {
            "account_name": "Support line",
            "credential__api_key": "k-123 ",
            "credential__sender": "+44 7911 123456",
            "credential__region": "eu",
        },
    )
    assert step.status_code == 302
    # Credentials wait for the last step encrypted, never as typed.
    assert "k-123" not in str(dict(admin_browser.session))

    routing_page = admin_browser.get(step["Location"])
    assert b"Set ticket properties for this channel" in routing_page.content
    done = post(
        admin_browser,
        step["Location"],
        routing_data(
            auto_assign="on",
            mode="SPECIFIC_USERS_AND_TEAMS",
            users=[str(alex.pk)],
            teams=[str(team.pk)],
            priority="HIGH",
            category="BILLING_ISSUE",
        ),
    )

    assert done.status_code == 302
    account = ChannelAccount.objects.get()
    assert done["Location"] == f"{CONNECT}done/{account.pk}/"
    assert account.name == "Support line"
    assert account.credentials == {"api_key": "k-123 ", "sender": "+447911123456", "region": "eu"}
    rule = account.routing_rule
    assert (rule.mode, rule.auto_assign, rule.priority, rule.category) == (
        "SPECIFIC_USERS_AND_TEAMS",
        True,
        "HIGH",
        "BILLING_ISSUE",
    )
    assert list(rule.users.all()) == [alex]
    assert list(rule.teams.all()) == [team]
    done_page = admin_browser.get(done["Location"]).content.decode()
    for link in ("Connect another account", "Connect a channel", "Go to help desk", "Done"):
        assert link in done_page
    entry = AuditEntry.objects.get()
    assert entry.action == "connect"
    assert entry.channel_account_id == account.pk
    assert "k-123" not in str(entry.changes)
    assert "channel_connect_wizard" not in admin_browser.session
    listed = admin_browser.get(CHANNELS).content.decode()
    assert "Specific users and teams: Support, Alex" in listed


def test_a_required_credential_left_empty_shows_its_error_and_stores_nothing(
    admin_browser: Client,
) -> None:
    channel = credentials_channel()
    url = f"{CONNECT}{channel.pk}/credentials/"
    post(admin_browser, f"{CONNECT}{channel.pk}/")

    response = post(
        admin_browser,
        url,
        {"account_name": "Line", "credential__api_key": "", "credential__sender": "12"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    key_field = html.index('name="credential__api_key"')
    sender_field = html.index('name="credential__sender"')
    assert key_field < html.index("is required") < sender_field
    assert "E.164" in html[sender_field:] or "phone" in html[sender_field:].lower()
    assert 'value="Line"' in html
    # Skipping ahead does not connect anything either.
    skipped = post(admin_browser, f"{CONNECT}{channel.pk}/routing/", routing_data())
    assert skipped.status_code == 302
    assert skipped["Location"] == url
    assert not ChannelAccount.objects.exists()
    assert not AuditEntry.objects.exists()


def test_the_routing_step_shows_service_errors_beside_fields(admin_browser: Client) -> None:
    channel = credentials_channel()
    post(admin_browser, f"{CONNECT}{channel.pk}/")
    post(admin_browser, f"{CONNECT}{channel.pk}/credentials/", {
        "account_name": "Line", "credential__api_key": "k"
    })  # fmt: skip
    response = post(
        admin_browser, f"{CONNECT}{channel.pk}/routing/", routing_data(name_template=" ")
    )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not ChannelAccount.objects.exists()


def test_an_uninstalled_apps_channel_cannot_be_connected(admin_browser: Client) -> None:
    channel = credentials_channel()
    channel.app.installed_at = None
    channel.app.save()
    assert post(admin_browser, f"{CONNECT}{channel.pk}/").status_code == 404
    assert admin_browser.get(f"{CONNECT}{channel.pk}/credentials/").status_code == 404


def test_connecting_through_the_apps_page_with_a_staging_token(admin_browser: Client) -> None:
    app_client = make_app_client()
    channel = credentials_channel(
        app=app_client.app,
        account_connection_redirect_url="https://bridge.example.com/connect?lang=en",
        connection_fields=[],
    )
    owner = UserFactory()

    start = post(admin_browser, f"{CONNECT}{channel.pk}/")
    assert start["Location"] == f"{CONNECT}{channel.pk}/routing/"
    sent = post(
        admin_browser,
        start["Location"],
        routing_data(auto_assign="on", mode="SPECIFIC_USERS_AND_TEAMS", users=[str(owner.pk)]),
    )

    assert sent.status_code == 302
    target = urlsplit(sent["Location"])
    assert (target.netloc, target.path) == ("bridge.example.com", "/connect")
    query = {key: values[0] for key, values in parse_qs(target.query).items()}
    assert query["lang"] == "en"
    assert query["channelId"] == str(channel.pk)
    staged = StagingToken.objects.get()
    assert staged.wizard_state["routing"]["mode"] == "SPECIFIC_USERS_AND_TEAMS"
    return_path = urlsplit(query["returnUrl"]).path
    assert return_path == f"{CONNECT}waiting/{staged.pk}/"

    waiting = admin_browser.get(return_path)
    assert waiting.status_code == 200
    assert f"Waiting for {app_client.app.name} to finish" in waiting.content.decode()

    completed = app_client.client.patch(
        f"/conversations/v3/custom-channels/{channel.pk}/channel-account-staging-tokens/"
        f"{query['accountToken']}",
        {"accountName": "Bridge line"},
        format="json",
    )
    assert completed.status_code == 200, completed.content

    resumed = admin_browser.get(return_path)
    account = ChannelAccount.objects.get()
    assert resumed["Location"] == f"{CONNECT}done/{account.pk}/"
    assert account.name == "Bridge line"
    assert account.routing_rule.mode == RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS
    assert list(account.routing_rule.users.all()) == [owner]
    admin_browser.get(return_path)  # coming back again records nothing more
    entry = AuditEntry.objects.get()
    assert entry.action == "connect"
    assert entry.actor_id == int(admin_browser.session["_auth_user_id"])


def test_another_admins_staging_token_is_404(admin_browser: Client) -> None:
    from channels_app.accounts import staging_token_create

    channel = credentials_channel(account_connection_redirect_url="https://bridge.example.com/c")
    _, staged = staging_token_create(channel=channel, created_by_id=UserFactory().pk)
    assert admin_browser.get(f"{CONNECT}waiting/{staged.pk}/").status_code == 404


def test_credentials_are_kept_encrypted_in_the_session(admin_browser: Client) -> None:
    channel = credentials_channel()
    post(admin_browser, f"{CONNECT}{channel.pk}/")
    post(admin_browser, f"{CONNECT}{channel.pk}/credentials/", {
        "account_name": "Line", "credential__api_key": "very-secret"
    })  # fmt: skip
    state = admin_browser.session["channel_connect_wizard"]
    assert "very-secret" not in str(state)
    assert "very-secret" in decrypt_text(state["credentials"])
