"""Who may call the channel and account endpoints: bearer tokens, scopes, HubSpot's developer
key (API.md "Apps and authentication")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from channels_app.models import AppToken, CustomChannel
from channels_app.services import app_create, token_revoke
from tests.conftest import AppClient, make_app_client
from tests.factories import ChannelAccountFactory, CustomChannelFactory

BASE = "/conversations/v3/custom-channels"
CHANNEL_BODY = {"name": "Keyed", "capabilities": {"allowOutgoingMessages": True}}
READ = "conversations.custom_channels.read"
WRITE = "conversations.custom_channels.write"


def endpoints(
    channel: CustomChannel, account_id: int
) -> list[tuple[str, str, dict[str, Any] | None]]:
    accounts = f"{BASE}/{channel.pk}/channel-accounts"
    return [
        ("get", BASE, None),
        ("post", BASE, CHANNEL_BODY),
        ("get", f"{BASE}/{channel.pk}", None),
        ("patch", f"{BASE}/{channel.pk}", {"name": "x"}),
        ("delete", f"{BASE}/{channel.pk}", None),
        ("post", f"{BASE}/{channel.pk}/rotate-signing-secret", None),
        ("get", accounts, None),
        ("post", accounts, {"name": "x"}),
        ("get", f"{accounts}/{account_id}", None),
        ("patch", f"{accounts}/{account_id}", {"name": "x"}),
        ("get", f"{accounts}/{account_id}/credentials", None),
        ("patch", f"{BASE}/{channel.pk}/channel-account-staging-tokens/abc", {"accountName": "x"}),
    ]


def call(client: APIClient, method: str, url: str, body: dict[str, Any] | None) -> Any:
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


def test_every_endpoint_without_credentials_is_401_and_changes_nothing(
    app_client: AppClient, anonymous_client: APIClient
) -> None:
    channel = CustomChannelFactory(app=app_client.app, name="Same")
    account = ChannelAccountFactory(channel=channel)

    for method, url, body in endpoints(channel, account.pk):
        response = call(anonymous_client, method, url, body)
        assert response.status_code == 401, (method, url)
        assert response.json()["category"] == "UNAUTHORIZED"
        assert response["WWW-Authenticate"].startswith("Bearer")
    channel.refresh_from_db()
    assert (channel.name, channel.archived) == ("Same", False)
    assert CustomChannel.objects.count() == 1


@pytest.mark.parametrize(
    "header", ["Bearer nope", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz", "Bearer"]
)
def test_bad_authorization_headers_are_401(app_client: AppClient, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(BASE).status_code == 401


def test_a_revoked_token_is_401(app_client: AppClient) -> None:
    assert app_client.client.get(BASE).status_code == 200
    token_revoke(token=AppToken.objects.get(app=app_client.app))

    response = app_client.client.get(BASE)

    assert response.status_code == 401
    assert response.json()["category"] == "UNAUTHORIZED"


def test_an_expired_token_is_401(app_client: AppClient) -> None:
    AppToken.objects.filter(app=app_client.app).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert app_client.client.get(BASE).status_code == 401


def test_a_read_only_token_reads_but_cannot_write(db: None) -> None:
    reader = make_app_client(scopes=(READ,))
    channel = CustomChannelFactory(app=reader.app, name="Same")
    account = ChannelAccountFactory(channel=channel)

    for method, url, body in endpoints(channel, account.pk):
        response = call(reader.client, method, url, body)
        if method == "get":
            assert response.status_code == 200, (method, url, response.content)
        else:
            assert response.status_code == 403, (method, url)
            assert response.json()["category"] == "FORBIDDEN"
    channel.refresh_from_db()
    assert (channel.name, channel.archived) == ("Same", False)


def test_a_write_only_token_cannot_read(db: None) -> None:
    writer = make_app_client(scopes=(WRITE,))
    channel = CustomChannelFactory(app=writer.app)
    account = ChannelAccountFactory(channel=channel)

    for method, url, body in endpoints(channel, account.pk):
        if method == "get":
            assert call(writer.client, method, url, body).status_code == 403, url
    assert writer.client.post(BASE, CHANNEL_BODY, format="json").status_code == 201


def test_scope_is_checked_before_the_object_is_looked_up(db: None) -> None:
    reader = make_app_client(scopes=(READ,))
    assert reader.client.delete(f"{BASE}/999999").status_code == 403


# --- HubSpot's developer key on channel endpoints ----------------------------------------------


@pytest.fixture
def keyed_app(db: None) -> tuple[Any, str]:
    created = app_create(name="Keyed app")
    return created.app, created.developer_api_key


def test_the_developer_key_manages_channels(keyed_app: tuple[Any, str]) -> None:
    app, key = keyed_app
    client = APIClient()
    auth = f"hapikey={key}&appId={app.pk}"

    created = client.post(f"{BASE}?{auth}", CHANNEL_BODY, format="json")
    assert created.status_code == 201, created.json()
    channel_id = created.json()["id"]
    assert CustomChannel.objects.get(pk=int(channel_id)).app == app

    listed = client.get(f"{BASE}?{auth}")
    assert [row["id"] for row in listed.json()["results"]] == [channel_id]
    assert client.get(f"{BASE}/{channel_id}?{auth}").status_code == 200
    patched = client.patch(f"{BASE}/{channel_id}?{auth}", {"name": "Renamed"}, format="json")
    assert patched.json()["name"] == "Renamed"
    rotated = client.post(f"{BASE}/{channel_id}/rotate-signing-secret?{auth}")
    assert rotated.json()["webhookSigningSecret"].startswith("whsec_")
    alias = client.get(f"/conversations/custom-channels/2026-03/{channel_id}?{auth}")
    assert alias.status_code == 200
    assert client.delete(f"{BASE}/{channel_id}?{auth}").status_code == 204
    assert CustomChannel.objects.get(pk=int(channel_id)).archived is True


def test_the_developer_key_works_without_app_id(keyed_app: tuple[Any, str]) -> None:
    _, key = keyed_app
    assert APIClient().get(f"{BASE}?hapikey={key}").status_code == 200


@pytest.mark.parametrize(
    "query",
    ["hapikey=wrong", "hapikey={key}&appId=999999", "hapikey={key}&appId=abc", "hapikey="],
)
def test_a_wrong_developer_key_or_app_id_is_401(keyed_app: tuple[Any, str], query: str) -> None:
    _, key = keyed_app
    response = APIClient().get(f"{BASE}?{query.format(key=key)}")
    assert response.status_code == 401
    assert response.json()["category"] == "UNAUTHORIZED"


def test_the_developer_key_does_not_open_account_or_inbox_endpoints(
    keyed_app: tuple[Any, str],
) -> None:
    app, key = keyed_app
    channel = CustomChannelFactory(app=app)
    account = ChannelAccountFactory(channel=channel)
    auth = f"hapikey={key}&appId={app.pk}"
    client = APIClient()

    urls = [
        f"{BASE}/{channel.pk}/channel-accounts?{auth}",
        f"{BASE}/{channel.pk}/channel-accounts/{account.pk}?{auth}",
        f"{BASE}/{channel.pk}/channel-accounts/{account.pk}/credentials?{auth}",
        f"/conversations/v3/conversations/inboxes?{auth}",
    ]
    for url in urls:
        assert client.get(url).status_code == 401, url


def test_the_developer_key_reaches_only_its_own_apps_channels(
    keyed_app: tuple[Any, str], other_app_client: AppClient
) -> None:
    app, key = keyed_app
    theirs = CustomChannelFactory(app=other_app_client.app)
    response = APIClient().get(f"{BASE}/{theirs.pk}?hapikey={key}&appId={app.pk}")
    assert response.status_code == 404


def test_a_bearer_token_wins_over_a_developer_key(
    keyed_app: tuple[Any, str], app_client: AppClient
) -> None:
    keyed, key = keyed_app
    mine = CustomChannelFactory(app=app_client.app)
    response = app_client.client.get(f"{BASE}?hapikey={key}&appId={keyed.pk}")
    assert [row["id"] for row in response.json()["results"]] == [str(mine.pk)]
