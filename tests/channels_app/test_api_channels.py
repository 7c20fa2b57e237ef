"""The custom-channel endpoints, exercised like an external client (API.md "Channels")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels_app.models import CustomChannel
from tests.conftest import AppClient
from tests.factories import CustomChannelFactory

BASE = "/conversations/v3/custom-channels"
ALIASES = ("/conversations/custom-channels/2026-03", "/conversations/custom-channels/2026-09")

FULL_CAPABILITIES: dict[str, Any] = {
    "deliveryIdentifierTypes": ["HS_PHONE_NUMBER", "HS_EMAIL_ADDRESS"],
    "threadingModel": "DELIVERY_IDENTIFIER",
    "richText": ["HYPERLINK", "BOLD"],
    "allowInlineImages": True,
    "allowOutgoingMessages": True,
    "allowConversationStart": False,
    "allowMultipleRecipients": True,
    "outgoingAttachmentTypes": ["FILE"],
    "allowedFileAttachmentMimeTypes": ["image/png", "application/pdf"],
    "maxFileAttachmentCount": 1,
    "maxFileAttachmentSizeBytes": 1_500_000,
    "maxTotalFileAttachmentSizeBytes": 1_500_000,
}

CHANNEL_KEYS = {
    "id",
    "name",
    "webhookUrl",
    "channelAccountConnectionRedirectUrl",
    "channelDescription",
    "channelLogoUrl",
    "capabilities",
    "channelAccountConnectionFields",
    "createdAt",
    "updatedAt",
    "archived",
}


def channel_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme SMS",
        "webhookUrl": "https://bridge.example.com/hooks",
        "channelAccountConnectionRedirectUrl": "https://bridge.example.com/connect",
        "channelDescription": "Text your customers.",
        "channelLogoUrl": "https://bridge.example.com/logo.png",
        "capabilities": dict(FULL_CAPABILITIES),
        "channelAccountConnectionFields": [
            {"name": "apiKey", "label": "API key", "type": "secret", "required": True},
            {"name": "region", "type": "select", "options": ["eu", "us"]},
        ],
    }
    body.update(overrides)
    return body


def create(client: AppClient, **overrides: Any) -> dict[str, Any]:
    response = client.client.post(BASE, channel_body(**overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def assert_error(response: Any, status: int, path: str | None = None, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error"
    assert body["correlationId"]
    if path is not None:
        paths = [error["in"] for error in body["errors"]]
        assert path in paths, paths
        if code is not None:
            codes = {error["in"]: error["code"] for error in body["errors"]}
            assert codes[path] == code, body["errors"]
    return body


# --- create ----------------------------------------------------------------------------------


def test_create_returns_the_channel_with_its_signing_secret_once(app_client: AppClient) -> None:
    body = create(app_client)

    assert set(body) == CHANNEL_KEYS | {"webhookSigningSecret"}
    assert body["webhookSigningSecret"].startswith("whsec_")
    channel = CustomChannel.objects.get(pk=int(body["id"]))
    assert channel.app == app_client.app
    assert channel.signing_secret == body["webhookSigningSecret"]
    assert body["name"] == "Acme SMS"
    assert body["webhookUrl"] == "https://bridge.example.com/hooks"
    assert body["channelAccountConnectionRedirectUrl"] == "https://bridge.example.com/connect"
    assert body["channelDescription"] == "Text your customers."
    assert body["channelLogoUrl"] == "https://bridge.example.com/logo.png"
    assert body["capabilities"] == FULL_CAPABILITIES
    assert body["archived"] is False
    assert body["createdAt"].endswith("Z")
    assert body["createdAt"][-5] == "."  # milliseconds
    assert body["channelAccountConnectionFields"] == [
        {"name": "apiKey", "label": "API key", "type": "secret", "required": True, "helpText": ""},
        {
            "name": "region",
            "label": "region",
            "type": "select",
            "required": False,
            "helpText": "",
            "options": ["eu", "us"],
        },
    ]


def test_create_with_minimal_body_fills_capability_defaults(app_client: AppClient) -> None:
    response = app_client.client.post(BASE, {"name": "Bare", "capabilities": {}}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["capabilities"] == {
        "deliveryIdentifierTypes": [],
        "threadingModel": "INTEGRATION_THREAD_ID",
        "richText": [],
        "allowInlineImages": False,
        "allowOutgoingMessages": False,
        "allowConversationStart": False,
        "allowMultipleRecipients": False,
        "outgoingAttachmentTypes": [],
        "allowedFileAttachmentMimeTypes": [],
    }
    assert body["webhookUrl"] is None
    assert body["channelDescription"] is None
    assert body["channelAccountConnectionFields"] == []


def test_create_ignores_unknown_top_level_fields(app_client: AppClient) -> None:
    body = create(app_client, somethingNew=True, portalId=5)
    assert "somethingNew" not in body


@pytest.mark.parametrize(
    ("overrides", "path", "code"),
    [
        ({"name": None}, "name", "REQUIRED"),
        ({"name": "   "}, "name", "REQUIRED"),
        ({"name": "x" * 201}, "name", "TOO_LONG"),
        ({"name": ["x"]}, "name", None),
        ({"capabilities": None}, "capabilities", "REQUIRED"),
        ({"capabilities": []}, "capabilities", "INVALID_FORMAT"),
        ({"capabilities": {"colour": "red"}}, "capabilities.colour", "UNKNOWN_FIELD"),
        (
            {"capabilities": {"deliveryIdentifierTypes": [{"type": "HS_EMAIL_ADDRESS"}]}},
            "capabilities.deliveryIdentifierTypes[0]",
            "INVALID_FORMAT",
        ),
        (
            {"capabilities": {"deliveryIdentifierTypes": ["HS_PHONE_NUMBER", "HS_FAX"]}},
            "capabilities.deliveryIdentifierTypes[1]",
            "INVALID_ENUM",
        ),
        (
            {"capabilities": {"deliveryIdentifierTypes": "HS_PHONE_NUMBER"}},
            "capabilities.deliveryIdentifierTypes",
            "INVALID_FORMAT",
        ),
        ({"capabilities": {"threadingModel": "BY_TOPIC"}}, "capabilities.threadingModel", None),
        ({"capabilities": {"threadingModel": 1}}, "capabilities.threadingModel", "INVALID_ENUM"),
        ({"capabilities": {"richText": ["UNDERLINE"]}}, "capabilities.richText[0]", None),
        ({"capabilities": {"allowInlineImages": "true"}}, "capabilities.allowInlineImages", None),
        (
            {"capabilities": {"allowOutgoingMessages": 1}},
            "capabilities.allowOutgoingMessages",
            None,
        ),
        (
            {"capabilities": {"allowConversationStart": "yes"}},
            "capabilities.allowConversationStart",
            None,
        ),
        (
            {"capabilities": {"allowMultipleRecipients": 0}},
            "capabilities.allowMultipleRecipients",
            None,
        ),
        (
            {"capabilities": {"outgoingAttachmentTypes": ["IMAGE"]}},
            "capabilities.outgoingAttachmentTypes[0]",
            "INVALID_ENUM",
        ),
        (
            {"capabilities": {"allowedFileAttachmentMimeTypes": ["png"]}},
            "capabilities.allowedFileAttachmentMimeTypes[0]",
            None,
        ),
        (
            {"capabilities": {"allowedFileAttachmentMimeTypes": "image/png"}},
            "capabilities.allowedFileAttachmentMimeTypes",
            None,
        ),
        (
            {"capabilities": {"maxFileAttachmentCount": True}},
            "capabilities.maxFileAttachmentCount",
            None,
        ),
        (
            {"capabilities": {"maxFileAttachmentCount": 1.5}},
            "capabilities.maxFileAttachmentCount",
            None,
        ),
        (
            {"capabilities": {"maxFileAttachmentCount": "2"}},
            "capabilities.maxFileAttachmentCount",
            None,
        ),
        (
            {"capabilities": {"maxFileAttachmentSizeBytes": -1}},
            "capabilities.maxFileAttachmentSizeBytes",
            "TOO_SMALL",
        ),
        (
            {"capabilities": {"maxTotalFileAttachmentSizeBytes": 10**40}},
            "capabilities.maxTotalFileAttachmentSizeBytes",
            "TOO_LARGE",
        ),
        ({"webhookUrl": "ftp://bridge.example.com/x"}, "webhookUrl", None),
        ({"webhookUrl": "bridge.example.com/hooks"}, "webhookUrl", None),
        ({"webhookUrl": "https:///nohost"}, "webhookUrl", None),
        ({"webhookUrl": "https://example.com:99999/"}, "webhookUrl", None),
        ({"webhookUrl": 5}, "webhookUrl", None),
        (
            {"channelAccountConnectionRedirectUrl": "javascript:alert(1)"},
            "channelAccountConnectionRedirectUrl",
            None,
        ),
        ({"channelLogoUrl": "data:image/png;base64,AAAA"}, "channelLogoUrl", None),
        ({"channelDescription": "a\u0000b"}, "channelDescription", None),
        ({"channelAccountConnectionFields": {"name": "x"}}, "channelAccountConnectionFields", None),
        ({"channelAccountConnectionFields": ["apiKey"]}, "channelAccountConnectionFields[0]", None),
        (
            {
                "channelAccountConnectionFields": [
                    {"name": "a", "type": "string"},
                    {"name": "b", "type": "date"},
                ]
            },
            "channelAccountConnectionFields[1].type",
            "INVALID_ENUM",
        ),
        (
            {"channelAccountConnectionFields": [{"type": "string"}]},
            "channelAccountConnectionFields[0].name",
            "REQUIRED",
        ),
        (
            {"channelAccountConnectionFields": [{"name": "api key", "type": "string"}]},
            "channelAccountConnectionFields[0].name",
            "INVALID_FORMAT",
        ),
        (
            {
                "channelAccountConnectionFields": [
                    {"name": "a", "type": "string"},
                    {"name": "a", "type": "secret"},
                ]
            },
            "channelAccountConnectionFields[1].name",
            "DUPLICATE",
        ),
        (
            {"channelAccountConnectionFields": [{"name": "r", "type": "select"}]},
            "channelAccountConnectionFields[0].options",
            None,
        ),
        (
            {"channelAccountConnectionFields": [{"name": "r", "type": "select", "options": []}]},
            "channelAccountConnectionFields[0].options",
            None,
        ),
        (
            {
                "channelAccountConnectionFields": [
                    {"name": "r", "type": "select", "options": ["a", 2]}
                ]
            },
            "channelAccountConnectionFields[0].options[1]",
            None,
        ),
        (
            {"channelAccountConnectionFields": [{"name": "r", "type": "string", "options": ["a"]}]},
            "channelAccountConnectionFields[0].options",
            None,
        ),
        (
            {
                "channelAccountConnectionFields": [
                    {"name": "r", "type": "string", "required": "yes"}
                ]
            },
            "channelAccountConnectionFields[0].required",
            None,
        ),
        (
            {"channelAccountConnectionFields": [{"name": "r", "type": "string", "colour": 1}]},
            "channelAccountConnectionFields[0].colour",
            "UNKNOWN_FIELD",
        ),
    ],
)
def test_create_rejects_invalid_input_with_its_path_and_stores_nothing(
    app_client: AppClient, overrides: dict[str, Any], path: str, code: str | None
) -> None:
    before = CustomChannel.objects.count()

    response = app_client.client.post(BASE, channel_body(**overrides), format="json")

    body = assert_error(response, 400, path, code)
    assert body["category"] == "VALIDATION_ERROR"
    assert CustomChannel.objects.count() == before


def test_create_reports_every_capability_error_at_once(app_client: AppClient) -> None:
    response = app_client.client.post(
        BASE,
        channel_body(capabilities={"threadingModel": "X", "allowInlineImages": "no", "bogus": 1}),
        format="json",
    )

    body = assert_error(response, 400)
    assert {error["in"] for error in body["errors"]} == {
        "capabilities.threadingModel",
        "capabilities.allowInlineImages",
        "capabilities.bogus",
    }


def test_create_without_capabilities_is_refused(app_client: AppClient) -> None:
    response = app_client.client.post(BASE, {"name": "No caps"}, format="json")
    assert_error(response, 400, "capabilities", "REQUIRED")


@pytest.mark.parametrize(
    "raw", [b"[1, 2]", b'"a string"', b"null", b"42", b"{not json", b"", b'{"name": "\\ud800"}']
)
def test_create_with_a_body_that_is_not_an_object_is_400(app_client: AppClient, raw: bytes) -> None:
    response = app_client.client.generic("POST", BASE, raw, content_type="application/json")
    assert_error(response, 400)
    assert CustomChannel.objects.count() == 0


def test_create_with_a_huge_integer_in_the_body_is_400(app_client: AppClient) -> None:
    raw = b'{"name": "x", "capabilities": {"maxFileAttachmentCount": ' + b"9" * 5000 + b"}}"
    response = app_client.client.generic("POST", BASE, raw, content_type="application/json")
    assert_error(response, 400)


def test_form_encoded_body_is_refused_in_the_error_shape(app_client: AppClient) -> None:
    response = app_client.client.post(BASE, {"name": "x"})  # multipart
    assert response.status_code == 415
    assert response.json()["status"] == "error"


def test_duplicates_in_capability_lists_are_dropped(app_client: AppClient) -> None:
    caps = {
        "richText": ["BOLD", "BOLD"],
        "allowedFileAttachmentMimeTypes": ["image/PNG", "image/png"],
    }
    body = create(app_client, capabilities=caps)
    assert body["capabilities"]["richText"] == ["BOLD"]
    assert body["capabilities"]["allowedFileAttachmentMimeTypes"] == ["image/png"]


# --- read, list ------------------------------------------------------------------------------


def test_get_returns_the_channel_without_its_secret(app_client: AppClient) -> None:
    created = create(app_client)

    response = app_client.client.get(f"{BASE}/{created['id']}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CHANNEL_KEYS
    assert created["webhookSigningSecret"] not in response.content.decode()
    expected = {key: value for key, value in created.items() if key != "webhookSigningSecret"}
    assert body == expected


@pytest.mark.parametrize("alias", ALIASES)
def test_dated_aliases_serve_the_same_channel(app_client: AppClient, alias: str) -> None:
    created = create(app_client)

    got = app_client.client.get(f"{alias}/{created['id']}")
    listed = app_client.client.get(alias)
    posted = app_client.client.post(alias, channel_body(name="Via alias"), format="json")

    assert got.status_code == 200
    assert got.json()["id"] == created["id"]
    assert [row["id"] for row in listed.json()["results"]] == [created["id"]]
    assert posted.status_code == 201
    assert CustomChannel.objects.filter(name="Via alias", app=app_client.app).exists()


def test_list_pages_through_the_apps_channels(
    app_client: AppClient, other_app_client: AppClient
) -> None:
    mine = [CustomChannelFactory(app=app_client.app) for _ in range(5)]
    CustomChannelFactory(app=other_app_client.app)
    CustomChannelFactory(app=app_client.app, archived=True, archived_at=timezone.now())

    first = app_client.client.get(BASE, {"limit": 2}).json()
    second = app_client.client.get(
        BASE, {"limit": 2, "after": first["paging"]["next"]["after"]}
    ).json()
    third = app_client.client.get(
        BASE, {"limit": 2, "after": second["paging"]["next"]["after"]}
    ).json()

    ids = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert ids == [str(channel.pk) for channel in mine]
    assert "paging" not in third
    assert len(third["results"]) == 1
    assert all("webhookSigningSecret" not in row for row in first["results"])


def test_list_default_page_is_20_and_last_page_has_no_paging(app_client: AppClient) -> None:
    CustomChannelFactory.create_batch(21, app=app_client.app)

    first = app_client.client.get(BASE).json()
    assert len(first["results"]) == 20
    rest = app_client.client.get(BASE, {"after": first["paging"]["next"]["after"]}).json()
    assert len(rest["results"]) == 1
    assert "paging" not in rest


def test_list_of_exactly_one_full_page_has_no_paging(app_client: AppClient) -> None:
    CustomChannelFactory.create_batch(3, app=app_client.app)
    body = app_client.client.get(BASE, {"limit": 3}).json()
    assert len(body["results"]) == 3
    assert "paging" not in body


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "9" * 40}, "limit"),
        ({"after": "abc"}, "after"),
        ({"after": "9" * 40}, "after"),
    ],
)
def test_list_rejects_bad_paging(app_client: AppClient, params: dict[str, Any], path: str) -> None:
    assert_error(app_client.client.get(BASE, params), 400, path)


@pytest.mark.parametrize("rows", [1, 20])
def test_list_query_count_does_not_grow_with_rows(
    app_client: AppClient, django_assert_num_queries: Any, rows: int
) -> None:
    CustomChannelFactory.create_batch(rows, app=app_client.app)
    # token lookup, the page
    with django_assert_num_queries(2):
        response = app_client.client.get(BASE, {"limit": 100})
    assert len(response.json()["results"]) == rows


# --- update ----------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_given_and_nulls_change_nothing(
    app_client: AppClient,
) -> None:
    created = create(app_client)

    response = app_client.client.patch(
        f"{BASE}/{created['id']}",
        {
            "name": "Acme SMS v2",
            "webhookUrl": None,
            "channelAccountConnectionRedirectUrl": None,
            "channelDescription": None,
            "channelLogoUrl": None,
            "capabilities": None,
            "channelAccountConnectionFields": None,
            "unknownField": "ignored",
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Acme SMS v2"
    for key in (
        "webhookUrl",
        "channelAccountConnectionRedirectUrl",
        "channelDescription",
        "channelLogoUrl",
        "capabilities",
        "channelAccountConnectionFields",
        "createdAt",
    ):
        assert body[key] == created[key], key
    assert "webhookSigningSecret" not in body
    channel = CustomChannel.objects.get(pk=int(created["id"]))
    assert channel.name == "Acme SMS v2"
    assert channel.signing_secret == created["webhookSigningSecret"]


def test_patch_replaces_capabilities_and_clears_a_url_with_empty_string(
    app_client: AppClient,
) -> None:
    created = create(app_client)

    response = app_client.client.patch(
        f"{BASE}/{created['id']}",
        {"capabilities": {"allowOutgoingMessages": True}, "webhookUrl": ""},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["webhookUrl"] is None
    assert body["capabilities"]["allowOutgoingMessages"] is True
    assert body["capabilities"]["deliveryIdentifierTypes"] == []
    assert "maxFileAttachmentCount" not in body["capabilities"]
    channel = CustomChannel.objects.get(pk=int(created["id"]))
    assert channel.webhook_url == ""
    assert channel.capabilities["allowOutgoingMessages"] is True
    assert channel.name == "Acme SMS"


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"name": ""}, "name"),
        ({"webhookUrl": "gopher://x"}, "webhookUrl"),
        ({"capabilities": {"threadingModel": "NOPE"}}, "capabilities.threadingModel"),
        ({"capabilities": "all"}, "capabilities"),
        (
            {"channelAccountConnectionFields": [{"name": "a", "type": "select", "options": []}]},
            "channelAccountConnectionFields[0].options",
        ),
    ],
)
def test_patch_rejects_invalid_fields_and_changes_nothing(
    app_client: AppClient, patch: dict[str, Any], path: str
) -> None:
    created = create(app_client)
    before = CustomChannel.objects.values().get(pk=int(created["id"]))

    response = app_client.client.patch(f"{BASE}/{created['id']}", patch, format="json")

    assert_error(response, 400, path)
    assert CustomChannel.objects.values().get(pk=int(created["id"])) == before


def test_patch_with_a_list_body_is_400(app_client: AppClient) -> None:
    created = create(app_client)
    response = app_client.client.patch(f"{BASE}/{created['id']}", [1], format="json")
    assert_error(response, 400)


# --- archive ---------------------------------------------------------------------------------


def test_delete_archives_the_channel_and_hides_it(app_client: AppClient) -> None:
    created = create(app_client)
    url = f"{BASE}/{created['id']}"

    response = app_client.client.delete(url)

    assert response.status_code == 204
    assert response.content == b""
    channel = CustomChannel.objects.get(pk=int(created["id"]))
    assert channel.archived is True
    assert channel.archived_at is not None
    assert app_client.client.get(url).status_code == 404
    assert app_client.client.patch(url, {"name": "x"}, format="json").status_code == 404
    assert app_client.client.delete(url).status_code == 404
    assert app_client.client.get(BASE).json()["results"] == []


# --- signing secret rotation ------------------------------------------------------------------


def test_rotate_issues_a_new_secret_and_keeps_the_old_one_for_a_day(app_client: AppClient) -> None:
    created = create(app_client)
    old = created["webhookSigningSecret"]

    response = app_client.client.post(f"{BASE}/{created['id']}/rotate-signing-secret")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CHANNEL_KEYS | {"webhookSigningSecret"}
    assert body["webhookSigningSecret"].startswith("whsec_")
    assert body["webhookSigningSecret"] != old
    channel = CustomChannel.objects.get(pk=int(created["id"]))
    assert channel.signing_secret == body["webhookSigningSecret"]
    assert channel.previous_signing_secret == old
    expires = channel.previous_signing_secret_expires_at
    assert expires is not None
    assert abs(expires - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)
    got = app_client.client.get(f"{BASE}/{created['id']}").content.decode()
    assert body["webhookSigningSecret"] not in got
    assert old not in got


def test_rotate_of_another_apps_channel_is_404(
    app_client: AppClient, other_app_client: AppClient
) -> None:
    channel = CustomChannelFactory(app=other_app_client.app)
    secret = channel.signing_secret

    response = app_client.client.post(f"{BASE}/{channel.pk}/rotate-signing-secret")

    assert_error(response, 404)
    channel.refresh_from_db()
    assert channel.signing_secret == secret
    assert channel.previous_signing_secret == ""


# --- ownership, ids ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_apps_channel_is_404(
    app_client: AppClient, other_app_client: AppClient, method: str
) -> None:
    channel = CustomChannelFactory(app=other_app_client.app, name="Theirs")

    response = getattr(app_client.client, method)(
        f"{BASE}/{channel.pk}", {"name": "Mine"}, format="json"
    )

    body = assert_error(response, 404)
    assert body["category"] == "OBJECT_NOT_FOUND"
    channel.refresh_from_db()
    assert channel.name == "Theirs"
    assert channel.archived is False


@pytest.mark.parametrize("channel_id", ["abc", "-1", "0", "1.5", "9" * 30, "%20", "1e3"])
def test_malformed_channel_ids_are_404(app_client: AppClient, channel_id: str) -> None:
    assert_error(app_client.client.get(f"{BASE}/{channel_id}"), 404)


def test_openapi_schema_documents_the_channel_operations(app_client: AppClient) -> None:
    response = app_client.client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    operation_ids = {
        operation.get("operationId")
        for path in schema["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict)
    }
    assert {
        "listChannels",
        "createChannel",
        "getChannel",
        "updateChannel",
        "archiveChannel",
        "rotateChannelSigningSecret",
        "listChannelAccounts",
        "createChannelAccount",
        "getChannelAccount",
        "updateChannelAccount",
        "getChannelAccountCredentials",
        "completeChannelAccountStagingToken",
        "listInboxes",
    } <= operation_ids
    create_input = schema["components"]["schemas"]["ChannelCreateInputRequest"]
    assert {"name", "capabilities", "webhookUrl", "channelAccountConnectionFields"} <= set(
        create_input["properties"]
    )
    assert set(create_input["required"]) == {"name", "capabilities"}
