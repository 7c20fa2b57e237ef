"""The channel and channel-account services and their validators, case by case."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from channels_app.accounts import (
    RoutingOptions,
    channel_account_connect,
    channel_account_deactivate,
    channel_account_delete,
    channel_account_reactivate,
    channel_account_update,
    staging_token_complete,
    staging_token_create,
)
from channels_app.api.serializers import problems_to_detail
from channels_app.capabilities import (
    InvalidInputError,
    capabilities_clean,
    capabilities_with_defaults,
    connection_fields_clean,
    credentials_clean,
    delivery_identifier_clean,
    delivery_identifier_normalise,
    http_url_problem,
)
from channels_app.models import ChannelAccount, CustomChannel, Delivery, StagingToken
from channels_app.services import (
    channel_archive,
    channel_create,
    channel_update,
    signing_secret_rotate,
)
from helpdesk.api_errors import ApiError, NotFound, flatten_validation_errors
from routing.models import RoutingRule, Team
from tests.factories import (
    AppFactory,
    ChannelAccountFactory,
    CustomChannelFactory,
    UserFactory,
    default_pipeline,
)
from tickets.models import Inbox, Pipeline, PipelineStatus

pytestmark = pytest.mark.django_db

CONNECTION_FIELDS = [
    {"name": "apiKey", "label": "API key", "type": "secret", "required": True},
    {"name": "email", "type": "email"},
    {"name": "endpoint", "type": "url"},
    {"name": "phone", "type": "phone"},
    {"name": "region", "type": "select", "options": ["eu", "us"], "required": True},
    {"name": "note", "type": "string"},
]


def paths(error: ApiError) -> list[str]:
    return [entry["in"] for entry in error.errors]


@pytest.fixture
def events() -> Callable[[], list[tuple[int | None, str]]]:
    """The account events in the webhook outbox, oldest first: (account id, event type)."""

    def outbox() -> list[tuple[int | None, str]]:
        return list(Delivery.objects.order_by("id").values_list("channel_account_id", "event_type"))

    return outbox


@pytest.fixture
def channel() -> CustomChannel:
    return CustomChannelFactory(connection_fields=connection_fields_clean(CONNECTION_FIELDS))


# --- channels --------------------------------------------------------------------------------


def test_channel_create_normalises_and_stores_a_fresh_secret() -> None:
    app = AppFactory()
    channel = channel_create(
        app=app, name="  SMS  ", capabilities={"richText": ["BOLD"]}, connection_fields=None
    )
    channel.refresh_from_db()
    assert channel.name == "SMS"
    assert channel.capabilities["richText"] == ["BOLD"]
    assert channel.capabilities["allowOutgoingMessages"] is False
    assert channel.connection_fields == []
    assert channel.signing_secret.startswith("whsec_")
    assert len(channel.signing_secret) > 40
    other = channel_create(app=app, name="Other", capabilities={})
    assert other.signing_secret != channel.signing_secret


def test_channel_create_reports_every_problem_and_stores_nothing() -> None:
    with pytest.raises(InvalidInputError) as caught:
        channel_create(
            app=AppFactory(),
            name=" ",
            capabilities={"threadingModel": "X"},
            webhook_url="ftp://x",
            logo_url="http://",
            connection_fields=[{"name": "1bad", "type": "string"}],
        )
    assert sorted(paths(caught.value)) == [
        "capabilities.threadingModel",
        "channelAccountConnectionFields[0].name",
        "channelLogoUrl",
        "name",
        "webhookUrl",
    ]
    assert caught.value.status_code == 400
    assert CustomChannel.objects.count() == 0


def test_channel_update_none_leaves_fields_and_values_replace_them() -> None:
    channel = CustomChannelFactory(name="Before", webhook_url="https://a.example/h")
    updated_at = channel.updated_at

    unchanged = channel_update(channel=channel)
    assert unchanged.name == "Before"
    assert unchanged.updated_at == updated_at

    changed = channel_update(
        channel=channel, webhook_url="", capabilities={"allowOutgoingMessages": True}
    )
    changed.refresh_from_db()
    assert changed.name == "Before"
    assert changed.webhook_url == ""
    assert changed.capabilities == capabilities_clean({"allowOutgoingMessages": True})


def test_channel_update_rejects_invalid_values_without_writing() -> None:
    channel = CustomChannelFactory(name="Kept")
    with pytest.raises(InvalidInputError) as caught:
        channel_update(channel=channel, name="", capabilities={"x": 1})
    assert sorted(paths(caught.value)) == ["capabilities.x", "name"]
    channel.refresh_from_db()
    assert channel.name == "Kept"


def test_channel_archive_is_idempotent() -> None:
    channel = CustomChannelFactory()
    first = channel_archive(channel=channel)
    archived_at = first.archived_at
    second = channel_archive(channel=channel)
    assert second.archived is True
    assert second.archived_at == archived_at


def test_rotating_twice_keeps_the_second_to_last_secret() -> None:
    channel = CustomChannelFactory()
    original = channel.signing_secret
    first = signing_secret_rotate(channel=channel).signing_secret
    second = signing_secret_rotate(channel=channel)
    second.refresh_from_db()
    assert second.signing_secret not in (original, first)
    assert second.previous_signing_secret == first
    assert second.previous_signing_secret_expires_at is not None
    assert second.previous_signing_secret_expires_at > timezone.now() + timedelta(hours=23)


# --- channel accounts ------------------------------------------------------------------------


def test_connect_stores_credentials_encrypted_and_raises_created(
    channel: CustomChannel, events: Callable[[], list[tuple[int | None, str]]]
) -> None:
    account = channel_account_connect(
        channel=channel,
        name="Line",
        credentials={
            "apiKey": " key with spaces ",
            "email": " Ops@Example.COM ",
            "endpoint": "https://gw.example.com/api",
            "phone": "+44 7911 123456",
            "region": "eu",
            "note": "",
        },
    )

    account.refresh_from_db()
    assert account.credentials == {
        "apiKey": " key with spaces ",
        "email": "ops@example.com",
        "endpoint": "https://gw.example.com/api",
        "phone": "+447911123456",
        "region": "eu",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM channels_app_channelaccount WHERE id = %s", [account.pk]
        )
        (raw,) = cursor.fetchone()
    assert "key with spaces" not in raw
    assert "ops@example.com" not in raw
    assert events() == [(account.pk, "CHANNEL_ACCOUNT_CREATED")]


@pytest.mark.parametrize(
    ("credentials", "path", "code"),
    [
        ({"region": "eu"}, "credentials.apiKey", "REQUIRED"),
        ({"apiKey": "   ", "region": "eu"}, "credentials.apiKey", "REQUIRED"),
        ({"apiKey": "k", "region": "asia"}, "credentials.region", "INVALID_ENUM"),
        ({"apiKey": "k", "region": "eu", "email": "nope"}, "credentials.email", "INVALID_FORMAT"),
        ({"apiKey": "k", "region": "eu", "endpoint": "ftp://x"}, "credentials.endpoint", None),
        ({"apiKey": "k", "region": "eu", "phone": "12345"}, "credentials.phone", None),
        ({"apiKey": "k", "region": "eu", "colour": "red"}, "credentials.colour", "UNKNOWN_FIELD"),
        ({"apiKey": 5, "region": "eu"}, "credentials.apiKey", "INVALID_FORMAT"),
        ({"apiKey": "a\x00b", "region": "eu"}, "credentials.apiKey", None),
        ({"apiKey": "k" * 4001, "region": "eu"}, "credentials.apiKey", "TOO_LONG"),
        (["apiKey"], "credentials", None),
    ],
)
def test_connect_validates_credentials_and_stores_nothing(
    channel: CustomChannel,
    events: Callable[[], list[tuple[int | None, str]]],
    credentials: Any,
    path: str,
    code: str | None,
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        channel_account_connect(channel=channel, name="Line", credentials=credentials)
    assert path in paths(caught.value)
    if code:
        assert {e["in"]: e["code"] for e in caught.value.errors}[path] == code
    assert ChannelAccount.objects.count() == 0
    assert RoutingRule.objects.count() == 0
    assert events() == []


def test_connect_without_credentials_skips_the_credential_check(channel: CustomChannel) -> None:
    account = channel_account_connect(channel=channel, name="API-made")
    assert account.credentials == {}


def test_connect_applies_routing_options() -> None:
    channel = CustomChannelFactory()
    pipeline = Pipeline.objects.create(name="VIP")
    PipelineStatus.objects.create(pipeline=pipeline, name="Closed", state="CLOSED", display_order=0)
    status = PipelineStatus.objects.create(pipeline=pipeline, name="Triage", display_order=1)
    rep = UserFactory()
    team = Team.objects.create(name="Tier 2")

    account = channel_account_connect(
        channel=channel,
        name="VIP line",
        routing=RoutingOptions(
            pipeline_id=pipeline.pk,
            starting_status_id=status.pk,
            priority="URGENT",
            category="BILLING_ISSUE",
            name_template="{contact}",
            auto_assign=True,
            mode=RoutingRule.Mode.CONTACT_OWNER,
            user_ids=(rep.pk,),
            team_ids=(team.pk,),
        ),
    )

    rule = account.routing_rule
    assert (rule.pipeline, rule.starting_status) == (pipeline, status)
    assert (rule.priority, rule.category, rule.name_template) == (
        "URGENT",
        "BILLING_ISSUE",
        "{contact}",
    )
    assert (rule.auto_assign, rule.mode) == (True, RoutingRule.Mode.CONTACT_OWNER)
    assert list(rule.users.all()) == [rep]
    assert list(rule.teams.all()) == [team]


def test_default_routing_uses_the_first_open_status_of_the_default_pipeline() -> None:
    account = channel_account_connect(channel=CustomChannelFactory(), name="Line")
    pipeline = default_pipeline()
    rule = account.routing_rule
    assert rule.pipeline == pipeline
    assert (
        rule.starting_status
        == pipeline.statuses.filter(state="OPEN").order_by("display_order").first()
    )
    assert (rule.mode, rule.auto_assign) == (RoutingRule.Mode.NONE, False)


def test_without_a_starting_status_the_first_open_one_is_chosen() -> None:
    pipeline = Pipeline.objects.create(name="Odd")
    PipelineStatus.objects.create(pipeline=pipeline, name="Done", state="CLOSED", display_order=0)
    first_open = PipelineStatus.objects.create(pipeline=pipeline, name="Open", display_order=1)

    account = channel_account_connect(
        channel=CustomChannelFactory(), name="Line", routing=RoutingOptions(pipeline_id=pipeline.pk)
    )

    assert account.routing_rule.starting_status == first_open


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"pipeline_id": 999999}, "routing.pipelineId"),
        ({"starting_status_id": 999999}, "routing.startingStatusId"),
        ({"priority": "SOMEDAY"}, "routing.priority"),
        ({"category": "GOSSIP"}, "routing.category"),
        ({"mode": "RANDOM"}, "routing.mode"),
        ({"name_template": "  "}, "routing.nameTemplate"),
        ({"user_ids": (999999,)}, "routing.userIds"),
        ({"team_ids": (999999,)}, "routing.teamIds"),
    ],
)
def test_invalid_routing_options_are_refused(options: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        channel_account_connect(
            channel=CustomChannelFactory(), name="Line", routing=RoutingOptions(**options)
        )
    assert paths(caught.value) == [path]
    assert ChannelAccount.objects.count() == 0


def test_a_closed_starting_status_is_refused() -> None:
    closed = default_pipeline().statuses.get(state="CLOSED")
    with pytest.raises(InvalidInputError) as caught:
        channel_account_connect(
            channel=CustomChannelFactory(),
            name="Line",
            routing=RoutingOptions(starting_status_id=closed.pk),
        )
    assert paths(caught.value) == ["routing.startingStatusId"]


def test_connect_to_an_unknown_inbox_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        channel_account_connect(channel=CustomChannelFactory(), name="Line", inbox_id=999999)
    assert paths(caught.value) == ["inboxId"]
    assert ChannelAccount.objects.count() == 0


def test_connect_without_any_inbox_is_a_400_not_a_crash() -> None:
    Inbox.objects.all().delete()
    with pytest.raises(ApiError) as caught:
        channel_account_connect(channel=CustomChannelFactory(), name="Line")
    assert caught.value.status_code == 400


def test_update_raises_one_event_only_when_something_changed(
    events: Callable[[], list[tuple[int | None, str]]],
) -> None:
    account = ChannelAccountFactory(name="Same")

    channel_account_update(account=account, name="Same", authorized=True)
    assert events() == []

    channel_account_update(account=account, name="New", authorized=False)
    account.refresh_from_db()
    assert (account.name, account.authorized, account.active) == ("New", False, False)
    assert events() == [(account.pk, "CHANNEL_ACCOUNT_UPDATED")]


def test_deactivate_and_reactivate_are_idempotent(
    events: Callable[[], list[tuple[int | None, str]]],
) -> None:
    account = ChannelAccountFactory()

    channel_account_deactivate(account=account)
    channel_account_deactivate(account=account)
    account.refresh_from_db()
    assert account.authorized is False
    assert account.active is False

    channel_account_reactivate(account=account)
    channel_account_reactivate(account=account)
    account.refresh_from_db()
    assert account.active is True
    assert events() == [
        (account.pk, "CHANNEL_ACCOUNT_UPDATED"),
        (account.pk, "CHANNEL_ACCOUNT_UPDATED"),
    ]


def test_delete_archives_once_and_raises_purged(
    events: Callable[[], list[tuple[int | None, str]]],
) -> None:
    account = ChannelAccountFactory()

    channel_account_delete(account=account)
    archived_at = ChannelAccount.objects.get(pk=account.pk).archived_at
    channel_account_delete(account=account)

    account.refresh_from_db()
    assert account.archived is True
    assert account.archived_at == archived_at
    assert account.active is False
    assert events() == [(account.pk, "CHANNEL_ACCOUNT_PURGED")]


# --- staging tokens --------------------------------------------------------------------------


def test_staging_token_is_stored_hashed_with_an_hour_to_live() -> None:
    channel = CustomChannelFactory()
    routing = RoutingOptions(priority="LOW", user_ids=(UserFactory().pk,))

    token, staged = staging_token_create(channel=channel, routing=routing)

    assert token.startswith("stg-hd-")
    assert staged.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not StagingToken.objects.filter(token_hash=token).exists()
    remaining = staged.expires_at - timezone.now()
    assert timedelta(minutes=59) < remaining <= timedelta(hours=1)
    assert staged.inbox == Inbox.objects.order_by("pk").first()
    assert RoutingOptions.from_state(staged.wizard_state["routing"]) == routing


def test_staging_token_with_invalid_routing_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        staging_token_create(channel=CustomChannelFactory(), routing=RoutingOptions(mode="X"))
    assert StagingToken.objects.count() == 0


def test_staging_token_completes_once(events: Callable[[], list[tuple[int | None, str]]]) -> None:
    channel = CustomChannelFactory()
    token, staged = staging_token_create(channel=channel, routing=RoutingOptions(priority="HIGH"))

    completed, account = staging_token_complete(
        channel=channel, token=token, account_name="Line", delivery_identifier=None
    )

    assert completed.pk == staged.pk
    assert completed.channel_account == account
    assert account.routing_rule.priority == "HIGH"
    with pytest.raises(NotFound):
        staging_token_complete(
            channel=channel, token=token, account_name="Again", delivery_identifier=None
        )
    assert ChannelAccount.objects.count() == 1
    assert events() == [(account.pk, "CHANNEL_ACCOUNT_CREATED")]


def test_staging_token_complete_reports_the_account_name_by_its_api_name() -> None:
    channel = CustomChannelFactory()
    token, _ = staging_token_create(channel=channel)
    with pytest.raises(InvalidInputError) as caught:
        staging_token_complete(
            channel=channel, token=token, account_name=" ", delivery_identifier=None
        )
    assert paths(caught.value) == ["accountName"]


def test_routing_options_from_unexpected_state_fall_back_to_defaults() -> None:
    assert RoutingOptions.from_state(None) == RoutingOptions()
    assert RoutingOptions.from_state({"priority": "LOW", "legacy": 1}) == RoutingOptions(
        priority="LOW"
    )


# --- validators ------------------------------------------------------------------------------


def test_capabilities_with_defaults_fills_rows_written_without_normalisation() -> None:
    assert capabilities_with_defaults({"maxFileAttachmentCount": 0}) == {
        **capabilities_clean({}),
        "maxFileAttachmentCount": 0,
    }
    assert capabilities_with_defaults(None) == capabilities_clean({})


@pytest.mark.parametrize(
    ("identifier_type", "value", "expected"),
    [
        ("HS_PHONE_NUMBER", "+1 415-555-2671", "+14155552671"),
        ("HS_PHONE_NUMBER", "004155552671", None),
        ("HS_PHONE_NUMBER", "+1" + "5" * 70, None),
        ("HS_EMAIL_ADDRESS", "A@B.Co", "a@b.co"),
        ("HS_EMAIL_ADDRESS", "a@", None),
        ("CHANNEL_SPECIFIC_OPAQUE_ID", " Keep Me ", " Keep Me "),
        ("CHANNEL_SPECIFIC_OPAQUE_ID", "", None),
        ("HS_SHORT_CODE", "12345", None),
    ],
)
def test_delivery_identifier_normalise(
    identifier_type: str, value: str, expected: str | None
) -> None:
    assert delivery_identifier_normalise(identifier_type, value) == expected


def test_delivery_identifier_clean_reports_type_and_value_together() -> None:
    with pytest.raises(InvalidInputError) as caught:
        delivery_identifier_clean({"type": 3, "value": None}, path="senders[0].deliveryIdentifier")
    assert paths(caught.value) == [
        "senders[0].deliveryIdentifier.type",
        "senders[0].deliveryIdentifier.value",
    ]
    assert delivery_identifier_clean(None) is None


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/hook", True),
        ("http://127.0.0.1:8000/x", True),  # private targets are refused at send time, not here
        ("HTTPS://EXAMPLE.COM", True),
        ("https://exa mple.com", False),
        ("https://", False),
        ("mailto:a@b.co", False),
        ("https://example.com:0x50/", False),
        ("/relative/path", False),
        ("https://" + "a" * 2000 + ".com", False),
    ],
)
def test_http_url_problem(url: str, ok: bool) -> None:
    assert (http_url_problem(url) is None) is ok


def test_credentials_clean_without_fields_accepts_only_an_empty_object() -> None:
    assert credentials_clean(connection_fields=[], credentials={}) == {}
    with pytest.raises(InvalidInputError):
        credentials_clean(connection_fields=[], credentials={"x": "1"})


def test_problem_paths_survive_the_trip_through_drf_error_detail() -> None:
    errors = [
        {"message": "bad", "in": "[1].type", "code": "INVALID_ENUM"},
        {"message": "dup", "in": "[3].options[0]", "code": "DUPLICATE"},
        {"message": "obj", "in": "[2]", "code": "INVALID_FORMAT"},
    ]
    detail = ValidationError({"channelAccountConnectionFields": problems_to_detail(errors)}).detail
    assert flatten_validation_errors(detail) == [
        {"message": "bad", "in": "channelAccountConnectionFields[1].type", "code": "INVALID_ENUM"},
        {"message": "obj", "in": "channelAccountConnectionFields[2]", "code": "INVALID_FORMAT"},
        {
            "message": "dup",
            "in": "channelAccountConnectionFields[3].options[0]",
            "code": "DUPLICATE",
        },
    ]
