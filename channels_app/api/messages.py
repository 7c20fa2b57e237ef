"""Messages of a custom channel: ``/conversations/v3/custom-channels/{channelId}/messages``.

Publishing (POST), reading (GET) and the app's delivery status of an outgoing message (PATCH).
The views parse and render; ``tickets.services`` does the work.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.access import access_channel_by_id, request_app
from channels_app.api.message_serializers import (
    DeliveryIdentifierSerializer,
    MessageOutputSerializer,
    message_to_api,
)
from channels_app.models import App, ChannelAccount
from channels_app.selectors import channel_account_get_for_publish
from helpdesk.api_errors import NotFound, field_error
from helpdesk.api_fields import TimestampField, parse_id
from tickets.contacts import IdentifierError, identifier_normalise
from tickets.models import Attachment, MessageDirection, MessageStatus
from tickets.publish import message_publish_inbound
from tickets.selectors import message_get_for_channel
from tickets.services import message_status_update

TEXT_MAX_LENGTH = 65_536
MAX_PARTICIPANTS = 100
MAX_ATTACHMENTS = 50
IDEMPOTENCY_KEY_MAX_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"

_ERROR_RESPONSES = {
    400: OpenApiResponse(description="VALIDATION_ERROR, with the input path in errors[].in"),
    401: OpenApiResponse(description="UNAUTHORIZED"),
    403: OpenApiResponse(description="FORBIDDEN: the token lacks the scope"),
    404: OpenApiResponse(description="OBJECT_NOT_FOUND (also another app's objects)"),
}


class DeliveryIdentifierInputSerializer(DeliveryIdentifierSerializer):
    value = serializers.CharField(max_length=320, trim_whitespace=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            attrs["value"] = identifier_normalise(attrs["type"], attrs["value"])
        except IdentifierError as error:
            raise serializers.ValidationError({"value": str(error)}, code="invalid") from None
        return attrs


class ParticipantInputSerializer(serializers.Serializer):
    deliveryIdentifier = DeliveryIdentifierInputSerializer()  # noqa: N815
    name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=300)
    senderActorId = serializers.CharField(  # noqa: N815
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=100,
        help_text="Accepted for HubSpot compatibility; the actor is derived by the help desk.",
    )


class AttachmentInputSerializer(serializers.Serializer):
    """``{type: FILE, fileId, fileUsageType?}``; other types keep their own fields as data."""

    type = serializers.ChoiceField(choices=Attachment.Type.choices)
    fileId = serializers.CharField(required=False, max_length=40)  # noqa: N815
    fileUsageType = serializers.ChoiceField(  # noqa: N815
        choices=Attachment.FileUsageType.choices, required=False, allow_null=True
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        attrs = super().to_internal_value(data)
        if attrs["type"] != Attachment.Type.FILE:
            # Structured content is stored and shown as the app sent it.
            return {"type": attrs["type"], "data": _content_fields(data)}
        file_id = parse_id(attrs.get("fileId"), "fileId")
        if file_id is None:
            message = "is required" if attrs.get("fileId") is None else "must be a file id"
            code = "required" if attrs.get("fileId") is None else "invalid"
            raise serializers.ValidationError({"fileId": [message]}, code=code)
        return {"type": "FILE", "fileId": file_id, "fileUsageType": attrs.get("fileUsageType")}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] == Attachment.Type.LOCATION:
            for name in ("latitude", "longitude"):
                value = attrs["data"].get(name)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise serializers.ValidationError({name: "must be a number"}, code="invalid")
        if attrs["type"] == Attachment.Type.QUICK_REPLIES and not isinstance(
            attrs["data"].get("quickReplies"), list
        ):
            raise serializers.ValidationError({"quickReplies": "must be a list"}, code="invalid")
        return attrs


def _content_fields(data: Any) -> dict[str, Any]:
    return {key: value for key, value in dict(data).items() if key != "type"}


class MessagePublishInputSerializer(serializers.Serializer):
    text = serializers.CharField(
        allow_blank=True, trim_whitespace=False, max_length=TEXT_MAX_LENGTH
    )
    richText = serializers.CharField(  # noqa: N815
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        max_length=TEXT_MAX_LENGTH * 4,
    )
    messageDirection = serializers.ChoiceField(choices=MessageDirection.choices)  # noqa: N815
    channelAccountId = serializers.CharField(max_length=40)  # noqa: N815
    senders: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=ParticipantInputSerializer(), allow_empty=False, max_length=MAX_PARTICIPANTS
    )
    recipients: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=ParticipantInputSerializer(),
        required=False,
        allow_null=True,
        max_length=MAX_PARTICIPANTS,
    )
    timestamp = TimestampField(required=False, allow_null=True)
    attachments: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=AttachmentInputSerializer(),
        required=False,
        allow_null=True,
        max_length=MAX_ATTACHMENTS,
    )
    integrationThreadId = serializers.CharField(  # noqa: N815
        required=False, allow_null=True, allow_blank=True, max_length=500
    )
    integrationIdempotencyId = serializers.CharField(  # noqa: N815
        required=False, allow_null=True, allow_blank=True, max_length=500
    )
    inReplyToId = serializers.CharField(required=False, allow_null=True, max_length=40)  # noqa: N815
    associateWithContactId = serializers.CharField(  # noqa: N815
        required=False, allow_null=True, max_length=40
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["text"] == "" and not attrs.get("attachments"):
            raise serializers.ValidationError(
                {"text": "may be empty only when the message has attachments"}, code="required"
            )
        for name in ("inReplyToId", "associateWithContactId"):
            raw = attrs.get(name)
            if raw is not None:
                attrs[name] = parse_id(raw, name)
                if attrs[name] is None:
                    raise serializers.ValidationError({name: "must be an id"}, code="invalid")
        if attrs["messageDirection"] == MessageDirection.OUTGOING and not attrs.get("recipients"):
            raise serializers.ValidationError(
                {"recipients": "an OUTGOING message needs its recipient"}, code="required"
            )
        return attrs


class MessageStatusUpdateInputSerializer(serializers.Serializer):
    statusType = serializers.ChoiceField(  # noqa: N815
        choices=[MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.READ], allow_null=True
    )
    errorMessage = serializers.CharField(  # noqa: N815
        required=False, allow_null=True, allow_blank=True, max_length=2000
    )


def request_hash(channel_id: int, body: Any) -> str:
    """SHA-256 of the canonical JSON of a request: key order and spacing don't matter. The
    channel is part of it: one key on two channels is two different requests."""
    canonical = json.dumps(
        {"channelId": channel_id, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_from(request: Request) -> str | None:
    """The ``Idempotency-Key`` header (IETF draft: a structured-field string, quotes optional)."""
    # ``META`` rather than ``request.headers``, which would build a mapping of every header.
    raw = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise field_error(
            "Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable characters"
        )
    return key


class MessagePublishApi(APIView):
    @extend_schema(
        operation_id="custom_channel_message_publish",
        summary="Publish a message",
        request=MessagePublishInputSerializer,
        parameters=[
            OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER),
        ],
        responses={
            201: MessageOutputSerializer,
            200: OpenApiResponse(
                MessageOutputSerializer,
                description="An idempotent retry: the first message (header Idempotent-Replayed)",
            ),
            409: OpenApiResponse(description="CONFLICT: the channel account is inactive"),
            422: OpenApiResponse(description="UNPROCESSABLE: Idempotency-Key reused"),
            **_ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, channel_id: str, **kwargs: Any) -> Response:
        app = request_app(request)
        try:
            key = idempotency_key_from(request)
            serializer = MessagePublishInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
        except exceptions.APIException:
            access_channel_by_id(app, channel_id)  # an unknown channel is 404 before a bad body
            raise
        data = serializer.validated_data
        account = _publish_account(app, channel_id, data["channelAccountId"])
        channel = account.channel
        result = message_publish_inbound(
            app=app,
            channel=channel,
            account=account,
            direction=data["messageDirection"],
            text=data["text"],
            rich_text=data.get("richText") or "",
            senders=data["senders"],
            recipients=data.get("recipients"),
            timestamp=data.get("timestamp"),
            attachments=data.get("attachments") or [],
            integration_thread_id=data.get("integrationThreadId") or None,
            integration_idempotency_id=data.get("integrationIdempotencyId") or None,
            in_reply_to_id=data.get("inReplyToId"),
            associate_with_contact_id=data.get("associateWithContactId"),
            idempotency_key=key,
            request_hash=request_hash(channel.pk, request.data) if key else "",
        )
        body = message_to_api(result.message)
        if result.replayed:
            return Response(body, status=200, headers={REPLAY_HEADER: "true"})
        return Response(body, status=201)


def _publish_account(app: App, channel_id: str, account_id: str) -> ChannelAccount:
    """The account to publish on, with its channel, in one query; when there is none, the same
    404 as ``access_channel_by_id`` then ``access_channel_account_by_id`` would give."""
    channel_pk = parse_id(channel_id, "channelId")
    account_pk = parse_id(account_id, "channelAccountId")
    account = None
    if channel_pk is not None and account_pk is not None:
        account = channel_account_get_for_publish(
            app=app, channel_id=channel_pk, account_id=account_pk
        )
    if account is None:
        access_channel_by_id(app, channel_id)
        raise NotFound("No channel account with this id.")
    return account


class MessageGetApi(APIView):
    @extend_schema(
        operation_id="custom_channel_message_get",
        summary="Get a message",
        responses={200: MessageOutputSerializer, **_ERROR_RESPONSES},
    )
    def get(self, request: Request, channel_id: str, message_id: str, **kwargs: Any) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        message = message_get_for_channel(channel=channel, message_id=message_id)
        if message is None:
            raise NotFound("No message with this id on this channel.")
        return Response(message_to_api(message))


class MessageStatusUpdateApi(APIView):
    @extend_schema(
        operation_id="custom_channel_message_status_update",
        summary="Update the delivery status of an outgoing message",
        request=MessageStatusUpdateInputSerializer,
        responses={
            200: MessageOutputSerializer,
            409: OpenApiResponse(description="CONFLICT: the message is INCOMING"),
            **_ERROR_RESPONSES,
        },
    )
    def patch(self, request: Request, channel_id: str, message_id: str, **kwargs: Any) -> Response:
        channel = access_channel_by_id(request_app(request), channel_id)
        message = message_get_for_channel(channel=channel, message_id=message_id)
        if message is None:
            raise NotFound("No message with this id on this channel.")
        serializer = MessageStatusUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = message_status_update(
            message=message,
            status_type=serializer.validated_data["statusType"],
            error_message=serializer.validated_data.get("errorMessage"),
        )
        return Response(message_to_api(message))
