"""Custom channels: ``/conversations/v3/custom-channels[/{channelId}]`` (API.md "Channels").

One view class per operation; ``channels_app.api.urls`` combines them per path. Channel
operations also accept HubSpot's developer key (``?hapikey=&appId=``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.access import access_channel_by_id, request_app
from channels_app.api.serializers import (
    CapabilitiesField,
    ChannelOutputSerializer,
    ChannelWithSecretOutputSerializer,
    ConnectionFieldsField,
    HttpUrlField,
    PagingSerializer,
)
from channels_app.selectors import channel_list
from channels_app.services import (
    CHANNEL_DESCRIPTION_MAX_LENGTH,
    CHANNEL_NAME_MAX_LENGTH,
    channel_archive,
    channel_create,
    channel_update,
    signing_secret_rotate,
)
from helpdesk.api_fields import page_after, paged_body

TAGS = ["Custom channels"]
PAGING_PARAMETERS = [
    OpenApiParameter("after", OpenApiTypes.STR, description="The cursor of the next page."),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Page size, 1 to 100 (default 20)."),
]


class DeveloperKeyApi(APIView):
    """Base of the channel operations: HubSpot also authenticates them with the developer key
    (``?hapikey=&appId=``, read by ``AppTokenAuthentication`` from this flag)."""

    allow_developer_key = True


class ChannelPageOutputSerializer(serializers.Serializer):
    results = ChannelOutputSerializer(many=True)
    paging = PagingSerializer(required=False)


class ChannelListApi(DeveloperKeyApi):
    """The app's channels that are not archived, by id, ``after``/``limit`` paged."""

    @extend_schema(
        operation_id="listChannels",
        tags=TAGS,
        parameters=PAGING_PARAMETERS,
        responses={200: ChannelPageOutputSerializer},
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        rows, next_after = page_after(
            channel_list(app=request_app(request)),
            after=request.query_params.get("after"),
            limit=request.query_params.get("limit"),
        )
        return Response(paged_body(list(ChannelOutputSerializer(rows, many=True).data), next_after))


class ChannelCreateApi(DeveloperKeyApi):
    """Registers a channel; the response shows its webhook signing secret, this once."""

    @extend_schema_serializer(component_name="ChannelCreateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=CHANNEL_NAME_MAX_LENGTH)
        webhookUrl = HttpUrlField(required=False, allow_null=True)  # noqa: N815
        channelAccountConnectionRedirectUrl = HttpUrlField(  # noqa: N815
            required=False, allow_null=True
        )
        channelDescription = serializers.CharField(  # noqa: N815
            required=False,
            allow_null=True,
            allow_blank=True,
            max_length=CHANNEL_DESCRIPTION_MAX_LENGTH,
        )
        channelLogoUrl = HttpUrlField(required=False, allow_null=True)  # noqa: N815
        capabilities = CapabilitiesField()
        channelAccountConnectionFields = ConnectionFieldsField(  # noqa: N815
            required=False, allow_null=True
        )

    @extend_schema(
        operation_id="createChannel",
        tags=TAGS,
        request=InputSerializer,
        responses={201: ChannelWithSecretOutputSerializer},
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        serializer = ChannelCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        channel = channel_create(
            app=request_app(request),
            name=data["name"],
            capabilities=data["capabilities"],
            webhook_url=data.get("webhookUrl") or "",
            account_connection_redirect_url=data.get("channelAccountConnectionRedirectUrl") or "",
            description=data.get("channelDescription") or "",
            logo_url=data.get("channelLogoUrl") or "",
            connection_fields=data.get("channelAccountConnectionFields"),
        )
        return Response(
            ChannelWithSecretOutputSerializer(channel).data, status=status.HTTP_201_CREATED
        )


class ChannelGetApi(DeveloperKeyApi):
    @extend_schema(operation_id="getChannel", tags=TAGS, responses={200: ChannelOutputSerializer})
    def get(self, request: Request, channel_id: str, **kwargs: Any) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        return Response(ChannelOutputSerializer(channel).data)


class ChannelUpdateApi(DeveloperKeyApi):
    """Changes the fields present and not ``null``; ``capabilities`` and
    ``channelAccountConnectionFields`` are replaced as a whole."""

    @extend_schema_serializer(component_name="ChannelUpdateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(
            required=False, allow_null=True, max_length=CHANNEL_NAME_MAX_LENGTH
        )
        webhookUrl = HttpUrlField(required=False, allow_null=True)  # noqa: N815
        channelAccountConnectionRedirectUrl = HttpUrlField(  # noqa: N815
            required=False, allow_null=True
        )
        channelDescription = serializers.CharField(  # noqa: N815
            required=False,
            allow_null=True,
            allow_blank=True,
            max_length=CHANNEL_DESCRIPTION_MAX_LENGTH,
        )
        channelLogoUrl = HttpUrlField(required=False, allow_null=True)  # noqa: N815
        capabilities = CapabilitiesField(required=False, allow_null=True)
        channelAccountConnectionFields = ConnectionFieldsField(  # noqa: N815
            required=False, allow_null=True
        )

    @extend_schema(
        operation_id="updateChannel",
        tags=TAGS,
        request=InputSerializer,
        responses={200: ChannelOutputSerializer},
    )
    def patch(self, request: Request, channel_id: str, **kwargs: Any) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        serializer = ChannelUpdateApi.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        channel = channel_update(
            channel=channel,
            name=data.get("name"),
            capabilities=data.get("capabilities"),
            webhook_url=data.get("webhookUrl"),
            account_connection_redirect_url=data.get("channelAccountConnectionRedirectUrl"),
            description=data.get("channelDescription"),
            logo_url=data.get("channelLogoUrl"),
            connection_fields=data.get("channelAccountConnectionFields"),
        )
        return Response(ChannelOutputSerializer(channel).data)


class ChannelArchiveApi(DeveloperKeyApi):
    """Archives the channel (204): it is gone from the API, its accounts refuse messages."""

    @extend_schema(operation_id="archiveChannel", tags=TAGS, responses={204: None})
    def delete(self, request: Request, channel_id: str, **kwargs: Any) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        channel_archive(channel=channel)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SigningSecretRotateApi(DeveloperKeyApi):
    """**(extension)** A new webhook signing secret; the previous one signs for 24 more hours."""

    @extend_schema(
        operation_id="rotateChannelSigningSecret",
        tags=TAGS,
        request=None,
        responses={200: ChannelWithSecretOutputSerializer},
    )
    def post(self, request: Request, channel_id: str, **kwargs: Any) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        channel = signing_secret_rotate(channel=channel)
        return Response(ChannelWithSecretOutputSerializer(channel).data)
