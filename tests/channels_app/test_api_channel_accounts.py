"""Channel accounts, their credentials and staged connections, exercised like an external client
(API.md "Channel accounts")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels_app.accounts import RoutingOptions, staging_token_create
from channels_app.models import ChannelAccount, CustomChannel, StagingToken
from routing.models import RoutingRule
from tests.conftest import AppClient
from tests.factories import (
    ChannelAccountFactory,
    CustomChannelFactory,
    UserFactory,
    default_inbox,
    default_pipeline,
)
from tickets.models import Inbox

BASE = "/conversations/v3/custom-channels"
ACCOUNT_KEYS = {
    "id",
    "channelId",
    "inboxId",
    "name",
    "active",
    "authorized",
    "archived",
    "archivedAt",
    "createdAt",
    "deliveryIdentifier",
}


@pytest.fixture
def channel(app_client: AppClient) -> CustomChannel:
    return CustomChannelFactory(app=app_client.app)


def accounts_url(channel: CustomChannel | int | str) -> str:
    channel_id = channel.pk if isinstance(channel, CustomChannel) else channel
    return f"{BASE}/{channel_id}/channel-accounts"


def account_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Support line",
        "authorized": True,
        "deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+1 (415) 555-2671"},
    }
    body.update(overrides)
    return body


def assert_error(response: Any, status: int, path: str | None = None, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error"
    if path is not None:
        errors = {error["in"]: error["code"] for error in body["errors"]}
        assert path in errors, body["errors"]
        if code is not None:
            assert errors[path] == code, body["errors"]
    return body


# --- create ----------------------------------------------------------------------------------


def test_create_connects_an_account_with_the_default_routing_rule(
    app_client: AppClient, channel: CustomChannel
) -> None:
    response = app_client.client.post(accounts_url(channel), account_body(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ACCOUNT_KEYS
    account = ChannelAccount.objects.get(pk=int(body["id"]))
    assert body["channelId"] == str(channel.pk)
    assert body["inboxId"] == str(default_inbox().pk)
    assert body["name"] == "Support line"
    assert body["active"] is True
    assert body["authorized"] is True
    assert body["archived"] is False
    assert body["archivedAt"] is None
    assert body["createdAt"].endswith("Z")
    assert body["deliveryIdentifier"] == {"type": "HS_PHONE_NUMBER", "value": "+14155552671"}
    assert account.delivery_identifier_value == "+14155552671"
    rule = RoutingRule.objects.get(channel_account=account)
    assert rule.mode == RoutingRule.Mode.NONE
    assert rule.pipeline == default_pipeline()
    assert rule.starting_status is not None
    assert rule.starting_status.name == "New"
    assert account.credentials == {}


def test_create_with_minimal_body_defaults_authorized_and_no_identifier(
    app_client: AppClient, channel: CustomChannel
) -> None:
    response = app_client.client.post(accounts_url(channel), {"name": "Bot"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["authorized"] is True
    assert body["active"] is True
    assert body["deliveryIdentifier"] is None


def test_create_unauthorized_account_is_inactive(
    app_client: AppClient, channel: CustomChannel
) -> None:
    response = app_client.client.post(
        accounts_url(channel), account_body(authorized=False), format="json"
    )
    assert response.status_code == 201
    assert response.json()["active"] is False
    assert response.json()["authorized"] is False


def test_create_in_a_chosen_inbox_accepts_string_and_integer_ids(
    app_client: AppClient, channel: CustomChannel
) -> None:
    inbox = Inbox.objects.create(name="Second")

    as_string = app_client.client.post(
        accounts_url(channel), account_body(inboxId=str(inbox.pk)), format="json"
    )
    as_int = app_client.client.post(
        accounts_url(channel),
        account_body(inboxId=inbox.pk, deliveryIdentifier=None),
        format="json",
    )

    assert as_string.json()["inboxId"] == str(inbox.pk)
    assert as_int.json()["inboxId"] == str(inbox.pk)


def test_create_normalises_email_identifiers(app_client: AppClient) -> None:
    channel = CustomChannelFactory(
        app=app_client.app, capabilities={"deliveryIdentifierTypes": ["HS_EMAIL_ADDRESS"]}
    )
    response = app_client.client.post(
        accounts_url(channel),
        account_body(deliveryIdentifier={"type": "HS_EMAIL_ADDRESS", "value": " Help@Acme.COM "}),
        format="json",
    )
    assert response.json()["deliveryIdentifier"] == {
        "type": "HS_EMAIL_ADDRESS",
        "value": "help@acme.com",
    }


def test_a_channel_without_identifier_types_accepts_any_type(app_client: AppClient) -> None:
    channel = CustomChannelFactory(app=app_client.app, capabilities={})
    response = app_client.client.post(
        accounts_url(channel),
        account_body(deliveryIdentifier={"type": "HS_EMAIL_ADDRESS", "value": "a@b.co"}),
        format="json",
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "path", "code"),
    [
        ({"name": None}, "name", "REQUIRED"),
        ({"name": ""}, "name", "REQUIRED"),
        ({"name": "n" * 201}, "name", "TOO_LONG"),
        ({"inboxId": "999999"}, "inboxId", "OBJECT_NOT_FOUND"),
        ({"inboxId": "abc"}, "inboxId", "INVALID_FORMAT"),
        ({"inboxId": True}, "inboxId", "INVALID_FORMAT"),
        ({"inboxId": 1.5}, "inboxId", "INVALID_FORMAT"),
        ({"inboxId": 10**30}, "inboxId", "INVALID_FORMAT"),
        ({"inboxId": {"id": 1}}, "inboxId", "INVALID_FORMAT"),
        ({"authorized": "true"}, "authorized", "INVALID_FORMAT"),
        ({"authorized": 1}, "authorized", "INVALID_FORMAT"),
        ({"deliveryIdentifier": "+14155552671"}, "deliveryIdentifier", "INVALID_FORMAT"),
        ({"deliveryIdentifier": {"value": "+14155552671"}}, "deliveryIdentifier.type", "REQUIRED"),
        (
            {"deliveryIdentifier": {"type": "HS_FAX", "value": "1"}},
            "deliveryIdentifier.type",
            "INVALID_ENUM",
        ),
        (
            # The channel allows phones and opaque ids only.
            {"deliveryIdentifier": {"type": "HS_EMAIL_ADDRESS", "value": "a@b.co"}},
            "deliveryIdentifier.type",
            "INVALID_ENUM",
        ),
        (
            {"deliveryIdentifier": {"type": "HS_PHONE_NUMBER"}},
            "deliveryIdentifier.value",
            "REQUIRED",
        ),
        (
            {"deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "4155552671"}},
            "deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
        (
            {"deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+1 call me"}},
            "deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
        (
            {"deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": 14155552671}},
            "deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
        (
            {"deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "   "}},
            "deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
        (
            {"deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "x" * 321}},
            "deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
        (
            {"deliveryIdentifier": {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "a\u0000b"}},
            "deliveryIdentifier.value",
            "INVALID_FORMAT",
        ),
    ],
)
def test_create_rejects_invalid_input_and_stores_nothing(
    app_client: AppClient,
    channel: CustomChannel,
    overrides: dict[str, Any],
    path: str,
    code: str,
) -> None:
    counts = (ChannelAccount.objects.count(), RoutingRule.objects.count())

    response = app_client.client.post(
        accounts_url(channel), account_body(**overrides), format="json"
    )

    assert_error(response, 400, path, code)
    assert (ChannelAccount.objects.count(), RoutingRule.objects.count()) == counts


def test_create_with_an_email_value_that_is_not_an_email_is_400(app_client: AppClient) -> None:
    channel = CustomChannelFactory(app=app_client.app, capabilities={})
    response = app_client.client.post(
        accounts_url(channel),
        account_body(deliveryIdentifier={"type": "HS_EMAIL_ADDRESS", "value": "not-an-email"}),
        format="json",
    )
    assert_error(response, 400, "deliveryIdentifier.value", "INVALID_FORMAT")


def test_opaque_identifier_of_320_characters_is_kept_as_given(
    app_client: AppClient, channel: CustomChannel
) -> None:
    value = "Ab" * 160
    response = app_client.client.post(
        accounts_url(channel),
        account_body(deliveryIdentifier={"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": value}),
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["deliveryIdentifier"]["value"] == value


@pytest.mark.parametrize("raw", [b"[]", b'"name"', b"null", b"{"])
def test_create_with_a_non_object_body_is_400(
    app_client: AppClient, channel: CustomChannel, raw: bytes
) -> None:
    response = app_client.client.generic(
        "POST", accounts_url(channel), raw, content_type="application/json"
    )
    assert_error(response, 400)
    assert ChannelAccount.objects.count() == 0


def test_create_on_an_archived_channel_is_404(app_client: AppClient) -> None:
    channel = CustomChannelFactory(app=app_client.app, archived=True, archived_at=timezone.now())
    response = app_client.client.post(accounts_url(channel), account_body(), format="json")
    assert_error(response, 404)
    assert ChannelAccount.objects.count() == 0


# --- get, list -------------------------------------------------------------------------------


def test_get_returns_the_account(app_client: AppClient, channel: CustomChannel) -> None:
    created = app_client.client.post(accounts_url(channel), account_body(), format="json").json()

    response = app_client.client.get(f"{accounts_url(channel)}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


def test_accounts_of_an_archived_channel_are_inactive_then_hidden(
    app_client: AppClient, channel: CustomChannel
) -> None:
    account = ChannelAccountFactory(channel=channel)
    assert account.active is True

    app_client.client.delete(f"{BASE}/{channel.pk}")

    account.refresh_from_db()
    assert account.active is False
    assert app_client.client.get(f"{accounts_url(channel)}/{account.pk}").status_code == 404


def test_list_pages_through_the_channels_accounts(
    app_client: AppClient, channel: CustomChannel
) -> None:
    accounts = ChannelAccountFactory.create_batch(5, channel=channel)
    ChannelAccountFactory(channel=CustomChannelFactory(app=app_client.app))  # another channel
    ChannelAccountFactory(channel=channel, archived=True, archived_at=timezone.now())

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        body = app_client.client.get(accounts_url(channel), params).json()
        pages += 1
        seen.extend(row["id"] for row in body["results"])
        if "paging" not in body:
            break
        params["after"] = body["paging"]["next"]["after"]

    assert pages == 3
    assert seen == [str(account.pk) for account in accounts]


def test_list_archived_true_returns_only_archived_accounts(
    app_client: AppClient, channel: CustomChannel
) -> None:
    ChannelAccountFactory(channel=channel)
    archived = ChannelAccountFactory(channel=channel, archived=True, archived_at=timezone.now())

    body = app_client.client.get(accounts_url(channel), {"archived": "true"}).json()

    assert [row["id"] for row in body["results"]] == [str(archived.pk)]
    assert body["results"][0]["archived"] is True
    assert body["results"][0]["archivedAt"] is not None
    assert body["results"][0]["active"] is False
    assert (
        app_client.client.get(accounts_url(channel), {"archived": "false"}).json()["results"][0][
            "archived"
        ]
        is False
    )


def test_list_filters_by_identifier_types_and_values(
    app_client: AppClient, channel: CustomChannel
) -> None:
    phone_a = ChannelAccountFactory(channel=channel, delivery_identifier_value="+14155552671")
    phone_b = ChannelAccountFactory(channel=channel, delivery_identifier_value="+447911123456")
    opaque = ChannelAccountFactory(
        channel=channel,
        delivery_identifier_type="CHANNEL_SPECIFIC_OPAQUE_ID",
        delivery_identifier_value="bot-7",
    )
    email = ChannelAccountFactory(
        channel=channel,
        delivery_identifier_type="HS_EMAIL_ADDRESS",
        delivery_identifier_value="help@acme.com",
    )

    def ids(query: str) -> list[str]:
        response = app_client.client.get(f"{accounts_url(channel)}?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("deliveryIdentifierType=HS_PHONE_NUMBER") == [str(phone_a.pk), str(phone_b.pk)]
    assert ids(
        "deliveryIdentifierType=CHANNEL_SPECIFIC_OPAQUE_ID&deliveryIdentifierType=HS_EMAIL_ADDRESS"
    ) == [
        str(opaque.pk),
        str(email.pk),
    ]
    assert ids("deliveryIdentifierType[]=HS_EMAIL_ADDRESS") == [str(email.pk)]
    # Values match in their stored form: phones in any notation, emails in any case.
    assert ids("deliveryIdentifierValue=%2B44%207911%20123456") == [str(phone_b.pk)]
    assert ids("deliveryIdentifierValue=HELP@acme.com&deliveryIdentifierValue=bot-7") == [
        str(opaque.pk),
        str(email.pk),
    ]
    assert ids("deliveryIdentifierValue=BOT-7") == []
    assert ids("deliveryIdentifierType=HS_PHONE_NUMBER&deliveryIdentifierValue=bot-7") == []


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("deliveryIdentifierType=HS_FAX", "deliveryIdentifierType"),
        ("archived=maybe", "archived"),
        ("deliveryIdentifierValue=a%00b", "deliveryIdentifierValue"),
        ("limit=1000", "limit"),
        ("after=x", "after"),
    ],
)
def test_list_rejects_bad_filters(
    app_client: AppClient, channel: CustomChannel, query: str, path: str
) -> None:
    assert_error(app_client.client.get(f"{accounts_url(channel)}?{query}"), 400, path)


@pytest.mark.parametrize("rows", [1, 20])
def test_list_query_count_does_not_grow_with_rows(
    app_client: AppClient, channel: CustomChannel, django_assert_num_queries: Any, rows: int
) -> None:
    ChannelAccountFactory.create_batch(rows, channel=channel)
    # token lookup, the channel, the page (with its channel joined)
    with django_assert_num_queries(3):
        response = app_client.client.get(accounts_url(channel), {"limit": 100})
    assert len(response.json()["results"]) == rows
    assert all(row["active"] is True for row in response.json()["results"])


# --- update ----------------------------------------------------------------------------------


def test_patch_renames_and_nulls_change_nothing(
    app_client: AppClient, channel: CustomChannel
) -> None:
    account = ChannelAccountFactory(channel=channel, name="Old")
    url = f"{accounts_url(channel)}/{account.pk}"

    renamed = app_client.client.patch(url, {"name": "New", "authorized": None}, format="json")
    untouched = app_client.client.patch(
        url, {"name": None, "authorized": None, "x": 1}, format="json"
    )

    assert renamed.status_code == 200
    assert renamed.json()["name"] == "New"
    assert renamed.json()["authorized"] is True
    assert untouched.json() == renamed.json()
    account.refresh_from_db()
    assert account.name == "New"
    assert account.authorized is True


def test_patch_authorized_false_deactivates_and_true_reactivates(
    app_client: AppClient, channel: CustomChannel
) -> None:
    account = ChannelAccountFactory(channel=channel)
    url = f"{accounts_url(channel)}/{account.pk}"

    off = app_client.client.patch(url, {"authorized": False}, format="json").json()
    account.refresh_from_db()
    assert (off["authorized"], off["active"], account.authorized) == (False, False, False)

    on = app_client.client.patch(url, {"authorized": True}, format="json").json()
    account.refresh_from_db()
    assert (on["authorized"], on["active"], account.authorized) == (True, True, True)


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"name": ""}, "name"),
        ({"name": {"first": "x"}}, "name"),
        ({"authorized": "false"}, "authorized"),
        ({"authorized": 0}, "authorized"),
    ],
)
def test_patch_rejects_invalid_values_and_changes_nothing(
    app_client: AppClient, channel: CustomChannel, patch: dict[str, Any], path: str
) -> None:
    account = ChannelAccountFactory(channel=channel, name="Same")

    response = app_client.client.patch(
        f"{accounts_url(channel)}/{account.pk}", patch, format="json"
    )

    assert_error(response, 400, path)
    account.refresh_from_db()
    assert (account.name, account.authorized) == ("Same", True)


def test_patch_of_an_archived_account_is_404(app_client: AppClient, channel: CustomChannel) -> None:
    account = ChannelAccountFactory(channel=channel, archived=True, archived_at=timezone.now())
    response = app_client.client.patch(
        f"{accounts_url(channel)}/{account.pk}", {"name": "Back"}, format="json"
    )
    assert_error(response, 404)


# --- ownership and ids -----------------------------------------------------------------------


def test_another_apps_accounts_are_404_everywhere(
    app_client: AppClient, other_app_client: AppClient
) -> None:
    theirs = CustomChannelFactory(app=other_app_client.app)
    account = ChannelAccountFactory(channel=theirs, name="Theirs", credentials={"apiKey": "s3cret"})
    url = f"{accounts_url(theirs)}/{account.pk}"

    responses = [
        app_client.client.get(accounts_url(theirs)),
        app_client.client.post(accounts_url(theirs), account_body(), format="json"),
        app_client.client.get(url),
        app_client.client.patch(url, {"name": "Mine"}, format="json"),
        app_client.client.get(f"{url}/credentials"),
    ]

    for response in responses:
        assert_error(response, 404)
        assert "s3cret" not in response.content.decode()
    account.refresh_from_db()
    assert account.name == "Theirs"
    assert ChannelAccount.objects.filter(channel=theirs).count() == 1


def test_an_account_reached_through_another_of_the_apps_channels_is_404(
    app_client: AppClient, channel: CustomChannel
) -> None:
    other_channel = CustomChannelFactory(app=app_client.app)
    account = ChannelAccountFactory(channel=other_channel)
    assert_error(app_client.client.get(f"{accounts_url(channel)}/{account.pk}"), 404)


@pytest.mark.parametrize("account_id", ["abc", "0", "-3", "9" * 25, "1.0"])
def test_malformed_account_ids_are_404(
    app_client: AppClient, channel: CustomChannel, account_id: str
) -> None:
    assert_error(app_client.client.get(f"{accounts_url(channel)}/{account_id}"), 404)


@pytest.mark.parametrize("channel_id", ["abc", "9" * 25])
def test_malformed_channel_ids_on_account_routes_are_404(
    app_client: AppClient, channel_id: str
) -> None:
    assert_error(app_client.client.get(accounts_url(channel_id)), 404)


def test_dated_alias_serves_accounts(app_client: AppClient, channel: CustomChannel) -> None:
    account = ChannelAccountFactory(channel=channel)
    response = app_client.client.get(
        f"/conversations/custom-channels/2026-09/{channel.pk}/channel-accounts/{account.pk}"
    )
    assert response.status_code == 200
    assert response.json()["id"] == str(account.pk)


# --- credentials -----------------------------------------------------------------------------


def test_credentials_are_returned_decrypted_to_the_owning_app_only(
    app_client: AppClient, channel: CustomChannel
) -> None:
    account = ChannelAccountFactory(
        channel=channel, credentials={"apiKey": "s3cret", "region": "eu"}
    )
    url = f"{accounts_url(channel)}/{account.pk}"

    response = app_client.client.get(f"{url}/credentials")

    assert response.status_code == 200
    assert response.json() == {"fields": {"apiKey": "s3cret", "region": "eu"}}
    assert "s3cret" not in app_client.client.get(url).content.decode()
    assert "s3cret" not in app_client.client.get(accounts_url(channel)).content.decode()


def test_credentials_of_an_account_without_any_are_empty(
    app_client: AppClient, channel: CustomChannel
) -> None:
    account = ChannelAccountFactory(channel=channel)
    response = app_client.client.get(f"{accounts_url(channel)}/{account.pk}/credentials")
    assert response.json() == {"fields": {}}


# --- staging tokens --------------------------------------------------------------------------


def staging_url(channel: CustomChannel, token: str) -> str:
    return f"{BASE}/{channel.pk}/channel-account-staging-tokens/{token}"


def test_staging_token_completion_creates_the_account_with_the_wizard_routing(
    app_client: AppClient, channel: CustomChannel
) -> None:
    admin = UserFactory()
    inbox = Inbox.objects.create(name="Sales")
    token, staged = staging_token_create(
        channel=channel,
        inbox_id=inbox.pk,
        routing=RoutingOptions(
            mode=RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS,
            auto_assign=True,
            user_ids=(admin.pk,),
            priority="HIGH",
        ),
        created_by_id=admin.pk,
    )

    response = app_client.client.patch(
        staging_url(channel, token),
        {
            "accountName": "Sales line",
            "deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+447911123456"},
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    account = ChannelAccount.objects.get(pk=int(body["channelAccountId"]))
    assert body == {
        "accountToken": token,
        "createdAt": body["createdAt"],
        "genericChannelId": str(channel.pk),
        "inboxId": str(inbox.pk),
        "userId": str(admin.pk),
        "accountName": "Sales line",
        "deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+447911123456"},
        "channelAccountId": str(account.pk),
    }
    assert body["createdAt"].endswith("Z")
    assert account.inbox == inbox
    assert account.created_by == admin
    rule = account.routing_rule
    assert rule.mode == RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS
    assert rule.auto_assign is True
    assert rule.priority == "HIGH"
    assert list(rule.users.all()) == [admin]
    staged.refresh_from_db()
    assert staged.completed_at is not None
    assert staged.channel_account == account
    assert staged.account_name == "Sales line"


def test_a_staging_token_works_once_then_404(app_client: AppClient, channel: CustomChannel) -> None:
    token, _ = staging_token_create(channel=channel)
    body = {"accountName": "Once"}

    first = app_client.client.patch(staging_url(channel, token), body, format="json")
    second = app_client.client.patch(staging_url(channel, token), body, format="json")

    assert first.status_code == 200
    assert_error(second, 404)
    assert ChannelAccount.objects.filter(channel=channel).count() == 1


def test_unknown_expired_or_other_channels_staging_tokens_are_404(
    app_client: AppClient, channel: CustomChannel
) -> None:
    expired, staged = staging_token_create(channel=channel)
    StagingToken.objects.filter(pk=staged.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    other_channel = CustomChannelFactory(app=app_client.app)
    elsewhere, _ = staging_token_create(channel=other_channel)
    body = {"accountName": "Nope"}

    for token in ("stg-hd-unknown", expired, elsewhere):
        assert_error(app_client.client.patch(staging_url(channel, token), body, format="json"), 404)
    assert ChannelAccount.objects.count() == 0


def test_another_apps_staging_token_is_404(
    app_client: AppClient, other_app_client: AppClient
) -> None:
    theirs = CustomChannelFactory(app=other_app_client.app)
    token, _ = staging_token_create(channel=theirs)
    response = app_client.client.patch(
        staging_url(theirs, token), {"accountName": "X"}, format="json"
    )
    assert_error(response, 404)
    assert ChannelAccount.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "accountName"),
        ({"accountName": ""}, "accountName"),
        (
            {
                "accountName": "A",
                "deliveryIdentifier": {"type": "HS_EMAIL_ADDRESS", "value": "a@b.co"},
            },
            "deliveryIdentifier.type",
        ),
        (
            {"accountName": "A", "deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "12"}},
            "deliveryIdentifier.value",
        ),
    ],
)
def test_staging_completion_validates_and_leaves_the_token_usable(
    app_client: AppClient, channel: CustomChannel, body: dict[str, Any], path: str
) -> None:
    token, staged = staging_token_create(channel=channel)

    assert_error(
        app_client.client.patch(staging_url(channel, token), body, format="json"), 400, path
    )

    staged.refresh_from_db()
    assert staged.completed_at is None
    assert ChannelAccount.objects.count() == 0
    retry = app_client.client.patch(
        staging_url(channel, token), {"accountName": "Ok"}, format="json"
    )
    assert retry.status_code == 200
