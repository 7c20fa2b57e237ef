"""Channel accounts of a custom channel, their credentials, and staged connections
(API.md "Channel accounts"): ``/conversations/v3/custom-channels/{channelId}/channel-accounts…``
and ``…/channel-account-staging-tokens/{accountToken}``.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.access import access_channel_account_by_id, access_channel_by_id, request_app
from channels_app.accounts import (
    CHANNEL_ACCOUNT_NAME_MAX_LENGTH,
    channel_account_connect,
    channel_account_update,
    staging_token_complete,
)
from channels_app.api.serializers import (
    ChannelAccountOutputSerializer,
    DeliveryIdentifierField,
    DeliveryIdentifierSerializer,
    ObjectIdField,
    PagingSerializer,
    StrictBooleanField,
)
from channels_app.capabilities import DELIVERY_IDENTIFIER_TYPES, text_problem
from channels_app.selectors import channel_account_list
from helpdesk.api_errors import field_error
from helpdesk.api_fields import format_timestamp, page_after, paged_body

TAGS = ["Channel accounts"]
# Filters on the list: HubSpot's SDKs repeat a parameter for each array item; some clients add
# ``[]`` to the name, so both spellings are read.
MAX_FILTER_VALUES = 100


def _query_list(query: QueryDict, name: str) -> list[str]:
    values = [*query.getlist(name), *query.getlist(f"{name}[]")]
    if len(values) > MAX_FILTER_VALUES:
        raise field_error(name, f"may be given at most {MAX_FILTER_VALUES} times", "TOO_LONG")
    for value in values:
        problem = text_problem(value)
        if problem:
            raise field_error(name, problem)
    return values


def _query_bool(query: QueryDict, name: str, *, default: bool) -> bool:
    value = query.get(name)
    if value in (None, ""):
        return default
    lowered = str(value).lower()
    if lowered not in ("true", "false"):
        raise field_error(name, "must be true or false")
    return lowered == "true"


class ChannelAccountPageOutputSerializer(serializers.Serializer):
    results = ChannelAccountOutputSerializer(many=True)
    paging = PagingSerializer(required=False)


class ChannelAccountListApi(APIView):
    """The channel's accounts (by default the non-archived ones), ``after``/``limit`` paged."""

    @extend_schema(
        operation_id="listChannelAccounts",
        tags=TAGS,
        parameters=[
            OpenApiParameter(
                "deliveryIdentifierType",
                OpenApiTypes.STR,
                many=True,
                enum=DELIVERY_IDENTIFIER_TYPES,
                description="Only accounts with one of these identifier types (repeatable).",
            ),
            OpenApiParameter(
                "deliveryIdentifierValue",
                OpenApiTypes.STR,
                many=True,
                description="Only accounts with one of these identifier values (repeatable); "
                "emails match case-insensitively, phones in any form that parses to E.164.",
            ),
            OpenApiParameter(
                "archived",
                OpenApiTypes.BOOL,
                description="true: only archived accounts; false (default): only the others.",
            ),
            OpenApiParameter("after", OpenApiTypes.STR),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 100 (default 20)."),
        ],
        responses={200: ChannelAccountPageOutputSerializer},
    )
    def get(self, request: Request, channel_id: str, **kwargs: Any) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        query = request.query_params
        identifier_types = _query_list(query, "deliveryIdentifierType")
        for identifier_type in identifier_types:
            if identifier_type not in DELIVERY_IDENTIFIER_TYPES:
                raise field_error(
                    "deliveryIdentifierType",
                    f"must be one of {', '.join(DELIVERY_IDENTIFIER_TYPES)}",
                    "INVALID_ENUM",
                )
        accounts = channel_account_list(
            channel=channel,
            archived=_query_bool(query, "archived", default=False),
            identifier_types=identifier_types,
            identifier_values=_query_list(query, "deliveryIdentifierValue"),
        )
        rows, next_after = page_after(accounts, after=query.get("after"), limit=query.get("limit"))
        return Response(
            paged_body(list(ChannelAccountOutputSerializer(rows, many=True).data), next_after)
        )


class ChannelAccountCreateApi(APIView):
    """Connects an account to the channel (with the default routing: unassigned tickets in the
    default pipeline)."""

    @extend_schema_serializer(component_name="ChannelAccountCreateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=CHANNEL_ACCOUNT_NAME_MAX_LENGTH)
        inboxId = ObjectIdField(required=False, allow_null=True)  # noqa: N815
        # Required by HubSpot; defaults to true here, so a minimal client still works.
        authorized = StrictBooleanField(required=False, allow_null=True)
        deliveryIdentifier = DeliveryIdentifierField(required=False, allow_null=True)  # noqa: N815

    @extend_schema(
        operation_id="createChannelAccount",
        tags=TAGS,
        request=InputSerializer,
        responses={201: ChannelAccountOutputSerializer},
    )
    def post(self, request: Request, channel_id: str, **kwargs: Any) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        serializer = ChannelAccountCreateApi.InputSerializer(
            data=request.data, context={"channel": channel}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        authorized = data.get("authorized")
        account = channel_account_connect(
            channel=channel,
            name=data["name"],
            inbox_id=data.get("inboxId"),
            authorized=True if authorized is None else authorized,
            delivery_identifier=data.get("deliveryIdentifier"),
        )
        return Response(
            ChannelAccountOutputSerializer(account).data, status=status.HTTP_201_CREATED
        )


class ChannelAccountGetApi(APIView):
    @extend_schema(
        operation_id="getChannelAccount",
        tags=TAGS,
        responses={200: ChannelAccountOutputSerializer},
    )
    def get(self, request: Request, channel_id: str, account_id: str, **kwargs: Any) -> Response:
        app = request_app(request)
        channel = access_channel_by_id(app, channel_id)
        account = access_channel_account_by_id(app, channel, account_id)
        return Response(ChannelAccountOutputSerializer(account).data)


class ChannelAccountUpdateApi(APIView):
    """Renames and/or (de)authorizes: ``authorized: false`` deactivates the account (messages
    refused with 409), ``true`` reactivates it; ``null`` leaves a field unchanged."""

    @extend_schema_serializer(component_name="ChannelAccountUpdateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(
            required=False, allow_null=True, max_length=CHANNEL_ACCOUNT_NAME_MAX_LENGTH
        )
        authorized = StrictBooleanField(required=False, allow_null=True)

    @extend_schema(
        operation_id="updateChannelAccount",
        tags=TAGS,
        request=InputSerializer,
        responses={200: ChannelAccountOutputSerializer},
    )
    def patch(self, request: Request, channel_id: str, account_id: str, **kwargs: Any) -> Response:
        app = request_app(request)
        channel = access_channel_by_id(app, channel_id)
        account = access_channel_account_by_id(app, channel, account_id)
        serializer = ChannelAccountUpdateApi.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = channel_account_update(
            account=account, name=data.get("name"), authorized=data.get("authorized")
        )
        return Response(ChannelAccountOutputSerializer(account).data)


class CredentialsOutputSerializer(serializers.Serializer):
    """``{fields: {name: value}}`` (for the schema). The key ``fields`` would shadow
    ``Serializer.fields`` as a class attribute, hence ``get_fields``."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"fields": serializers.DictField(child=serializers.CharField())}


class ChannelAccountCredentialsApi(APIView):
    """**(extension)** The credentials an admin entered when connecting the account,
    decrypted, for the app that owns the channel only (webhook events never carry them)."""

    @extend_schema(
        operation_id="getChannelAccountCredentials",
        tags=TAGS,
        responses={200: CredentialsOutputSerializer},
    )
    def get(self, request: Request, channel_id: str, account_id: str, **kwargs: Any) -> Response:
        app = request_app(request)
        channel = access_channel_by_id(app, channel_id)
        account = access_channel_account_by_id(app, channel, account_id)
        return Response({"fields": dict(account.credentials or {})})


class StagingTokenOutputSerializer(serializers.Serializer):
    accountToken = serializers.CharField()  # noqa: N815
    createdAt = serializers.CharField()  # noqa: N815
    genericChannelId = serializers.CharField()  # noqa: N815
    inboxId = serializers.CharField()  # noqa: N815
    userId = serializers.CharField(allow_null=True)  # noqa: N815
    accountName = serializers.CharField()  # noqa: N815
    deliveryIdentifier = DeliveryIdentifierSerializer(allow_null=True)  # noqa: N815
    channelAccountId = serializers.CharField()  # noqa: N815


class StagingTokenCompleteApi(APIView):
    """Completes a connection an admin started in the settings UI and the app's own page
    (``channelAccountConnectionRedirectUrl``) finished: creates the account. An unknown,
    expired or already used token is 404."""

    @extend_schema_serializer(component_name="StagingTokenCompleteInput")
    class InputSerializer(serializers.Serializer):
        accountName = serializers.CharField(max_length=CHANNEL_ACCOUNT_NAME_MAX_LENGTH)  # noqa: N815
        deliveryIdentifier = DeliveryIdentifierField(required=False, allow_null=True)  # noqa: N815

    @extend_schema(
        operation_id="completeChannelAccountStagingToken",
        tags=TAGS,
        request=InputSerializer,
        responses={200: StagingTokenOutputSerializer},
    )
    def patch(
        self, request: Request, channel_id: str, account_token: str, **kwargs: Any
    ) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        serializer = StagingTokenCompleteApi.InputSerializer(
            data=request.data, context={"channel": channel}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        staged, account = staging_token_complete(
            channel=channel,
            token=account_token,
            account_name=data["accountName"],
            delivery_identifier=data.get("deliveryIdentifier"),
        )
        body = {
            "accountToken": account_token,
            "createdAt": format_timestamp(staged.created_at),
            "genericChannelId": str(channel.pk),
            "inboxId": str(staged.inbox_id),
            "userId": str(staged.created_by_id) if staged.created_by_id else None,
            "accountName": account.name,
            "deliveryIdentifier": account.delivery_identifier,
            "channelAccountId": str(account.pk),
        }
        return Response(StagingTokenOutputSerializer(body).data)
