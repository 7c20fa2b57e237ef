"""Settings → Help Desk → Channels (SPEC C1, C4): the list, Edit, Delete and the Status switch,
each through the pages and checked through the API as an app sees it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from channels_app.accounts import RoutingOptions, channel_account_connect
from channels_app.models import AuditEntry, ChannelAccount, Delivery
from routing.models import RoutingRule, Team
from tests.channels_app.settings_helpers import CHANNELS, credentials_channel, post, routing_data
from tests.conftest import make_app_client
from tests.factories import ChannelAccountFactory, UserFactory
from tests.tickets.factories import message_body, messages_url

pytestmark = pytest.mark.django_db


def _connected(channel: Any, name: str = "Support line", **routing: Any) -> ChannelAccount:
    return channel_account_connect(
        channel=channel,
        name=name,
        credentials={"api_key": "k-123"},
        routing=RoutingOptions(**routing),
    )


def test_the_empty_state_explains_custom_channels(admin_browser: Client) -> None:
    response = admin_browser.get(CHANNELS)
    assert response.status_code == 200
    assert b'data-testid="empty-state"' in response.content
    assert b"POST /conversations/v3/custom-channels" in response.content
    assert b"Connect a channel" in response.content


def test_the_list_shows_each_connected_account(admin_browser: Client) -> None:
    channel = credentials_channel()
    alex = UserFactory(first_name="Alex")
    team = Team.objects.create(name="Support")
    _connected(
        channel,
        auto_assign=True,
        mode=RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS,
        user_ids=(alex.pk,),
        team_ids=(team.pk,),
    )
    owner = _connected(channel, name="Owner line", auto_assign=True, mode="CONTACT_OWNER")
    inactive = _connected(channel, name="Paused line")
    inactive.authorized = False
    inactive.save()
    deleted = _connected(channel, name="Gone line")
    deleted.archived = True
    deleted.save()

    html = admin_browser.get(CHANNELS).content.decode()

    assert "Specific users and teams: Support, Alex" in html
    assert "Contact owner" in html
    assert "Owner line" in html
    assert "Paused line" in html
    assert "Gone line" not in html
    assert html.count('class="status-active">Active') == 2
    assert html.count('class="status-inactive">Inactive') == 1
    assert "https://bridge.example.com/logo.png" in html
    assert "Acme SMS" in html
    assert owner.created_at.strftime("%b") in html


@pytest.mark.parametrize("accounts", [1, 20])
def test_the_list_costs_the_same_queries_for_1_and_20_accounts(
    admin_browser: Client, django_assert_num_queries: Any, accounts: int
) -> None:
    channel = credentials_channel()
    team = Team.objects.create(name="Support")
    users = UserFactory.create_batch(2)
    for number in range(accounts):
        _connected(
            channel,
            name=f"Line {number}",
            auto_assign=True,
            mode=RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS,
            user_ids=tuple(user.pk for user in users),
            team_ids=(team.pk,),
        )
    admin_browser.get(CHANNELS)  # warm the session

    # session, user, role check, accounts (+channel, app, rule), rule users, rule teams
    with django_assert_num_queries(6):
        response = admin_browser.get(CHANNELS)
    assert response.content.decode().count("data-account-id=") == accounts


def test_edit_switches_the_routing_to_contact_owner(admin_browser: Client) -> None:
    channel = credentials_channel()
    account = _connected(channel)
    page = admin_browser.get(f"{CHANNELS}{account.pk}/edit/")
    assert page.status_code == 200
    assert b"Automatically assign tickets" in page.content

    response = post(
        admin_browser,
        f"{CHANNELS}{account.pk}/edit/",
        routing_data(auto_assign="on", mode="CONTACT_OWNER", priority="HIGH"),
    )

    assert response.status_code == 302
    assert response["Location"] == CHANNELS
    rule = RoutingRule.objects.get(channel_account=account)
    assert rule.mode == RoutingRule.Mode.CONTACT_OWNER
    assert rule.auto_assign is True
    assert rule.priority == "HIGH"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EDIT)
    assert entry.channel_account_id == account.pk
    assert entry.changes["routing"]["mode"] == {"from": "NONE", "to": "CONTACT_OWNER"}
    assert "Contact owner" in admin_browser.get(CHANNELS).content.decode()


def test_edit_with_specific_users_and_nobody_chosen_shows_the_error(admin_browser: Client) -> None:
    account = _connected(credentials_channel())
    response = post(
        admin_browser,
        f"{CHANNELS}{account.pk}/edit/",
        routing_data(auto_assign="on", mode="SPECIFIC_USERS_AND_TEAMS"),
    )
    assert response.status_code == 200
    assert b"Choose at least one user or team." in response.content
    assert RoutingRule.objects.get(channel_account=account).mode == RoutingRule.Mode.NONE
    assert not AuditEntry.objects.exists()


def test_deactivate_refuses_inbound_messages_then_reactivate_accepts_them(
    admin_browser: Client,
) -> None:
    app_client = make_app_client()
    channel = credentials_channel(app=app_client.app)
    account = _connected(channel)

    confirm = admin_browser.get(f"{CHANNELS}{account.pk}/deactivate/")
    assert b">Deactivate</button>" in confirm.content
    assert post(admin_browser, f"{CHANNELS}{account.pk}/deactivate/").status_code == 302

    refused = app_client.client.post(messages_url(channel), message_body(account), format="json")
    assert refused.status_code == 409
    assert "Inactive" in admin_browser.get(CHANNELS).content.decode()

    assert post(admin_browser, f"{CHANNELS}{account.pk}/reactivate/").status_code == 302
    accepted = app_client.client.post(messages_url(channel), message_body(account), format="json")
    assert accepted.status_code in (200, 201), accepted.content
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["deactivate", "reactivate"]
    updates = Delivery.objects.filter(
        channel_account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
    )
    assert updates.count() == 2


def test_reactivate_is_post_only(admin_browser: Client) -> None:
    account = ChannelAccountFactory(authorized=False)
    assert admin_browser.get(f"{CHANNELS}{account.pk}/reactivate/").status_code == 405


def test_delete_archives_the_account_and_the_api_answers_404(admin_browser: Client) -> None:
    app_client = make_app_client()
    channel = credentials_channel(app=app_client.app)
    account = _connected(channel)
    api_url = f"/conversations/v3/custom-channels/{channel.pk}/channel-accounts/{account.pk}"
    assert app_client.client.get(api_url).status_code == 200

    confirm = admin_browser.get(f"{CHANNELS}{account.pk}/delete/")
    assert b"Delete account" in confirm.content
    response = post(admin_browser, f"{CHANNELS}{account.pk}/delete/")

    assert response.status_code == 302
    assert app_client.client.get(api_url).status_code == 404
    assert admin_browser.get(f"{CHANNELS}{account.pk}/edit/").status_code == 404
    assert b"data-account-id=" not in admin_browser.get(CHANNELS).content
    assert Delivery.objects.filter(
        channel_account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_PURGED
    ).exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.channel_account_id) == ("delete", account.pk)
    assert entry.target == "Acme SMS · Support line"
