"""The message object of the API, as HubSpot's clients parse it.

Used by the message endpoints and by the webhook payloads (``OUTGOING_CHANNEL_MESSAGE_CREATED``),
so it takes plain ``Message`` rows: ``messages_to_api`` fetches the attachments of many messages
in one query; ``message_to_api`` renders one. Stored participants are
``{actorId?, name?, deliveryIdentifier: {type, value}}`` and are returned as stored.

``MessageOutputSerializer`` is the object's schema (OpenAPI); ``message_body`` renders it by
hand, as that serializer would, without building a serializer per message: publishing renders
one message per request (``tests/channels_app/test_message_rendering.py`` holds the two equal).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import prefetch_related_objects
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.api_fields import IdField, TimestampField, format_timestamp
from tickets.files import file_url
from tickets.models import Attachment, Message, MessageStatus
from tickets.selectors import attachments_prefetch

# HubSpot's statusType has no PENDING: a reply being delivered reads as SENT, as HubSpot shows
# its own replies the moment the rep sends them.
API_STATUS_TYPES = {MessageStatus.PENDING: MessageStatus.SENT}


class DeliveryIdentifierSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["HS_EMAIL_ADDRESS", "HS_PHONE_NUMBER", "CHANNEL_SPECIFIC_OPAQUE_ID"]
    )
    value = serializers.CharField()


class ParticipantOutputSerializer(serializers.Serializer):
    actorId = serializers.CharField(  # noqa: N815 (HubSpot's field name)
        required=False, help_text="A-<userId> for reps, V-<contactId> for contacts."
    )
    name = serializers.CharField(required=False)
    deliveryIdentifier = DeliveryIdentifierSerializer(required=False)  # noqa: N815


class AttachmentOutputSerializer(serializers.Serializer):
    """A FILE attachment (``fileId``, ``fileUsageType``, ``name``, ``url``, ``type`` for video
    files) or structured content whose own fields follow ``type``, as the app sent them."""

    type = serializers.ChoiceField(choices=Attachment.Type.choices)
    fileId = serializers.CharField(required=False)  # noqa: N815
    fileUsageType = serializers.ChoiceField(  # noqa: N815
        choices=Attachment.FileUsageType.choices, required=False
    )
    name = serializers.CharField(required=False)
    url = serializers.URLField(required=False, help_text="Signed; expires.")
    contentType = serializers.CharField(  # noqa: N815
        required=False, help_text="(extension) the sniffed MIME type of a FILE."
    )


class ClientOutputSerializer(serializers.Serializer):
    clientType = serializers.ChoiceField(  # noqa: N815
        choices=["HUBSPOT", "INTEGRATION", "SYSTEM", "UNKNOWN"]
    )
    integrationAppId = serializers.IntegerField(required=False)  # noqa: N815


class FailureDetailsSerializer(serializers.Serializer):
    errorMessage = serializers.CharField()  # noqa: N815


class StatusOutputSerializer(serializers.Serializer):
    statusType = serializers.ChoiceField(choices=["SENT", "FAILED", "READ", "RECEIVED"])  # noqa: N815
    failureDetails = FailureDetailsSerializer(required=False)  # noqa: N815


class MessageOutputSerializer(serializers.Serializer):
    """The message object, as documented; ``message_body`` renders it. Its attachments should
    be prefetched (``attachments_prefetch``)."""

    id = IdField(source="pk")
    type = serializers.SerializerMethodField()
    conversationsThreadId = IdField(source="thread_id")  # noqa: N815
    channelId = IdField(source="channel_id")  # noqa: N815
    channelAccountId = IdField(source="channel_account_id")  # noqa: N815
    direction = serializers.CharField()
    text = serializers.CharField()
    richText = serializers.CharField(source="rich_text")  # noqa: N815
    attachments = serializers.SerializerMethodField()
    senders = ParticipantOutputSerializer(many=True)
    recipients = ParticipantOutputSerializer(many=True)
    inReplyToId = IdField(source="in_reply_to_id", allow_null=True)  # noqa: N815
    createdAt = TimestampField(source="created_at")  # noqa: N815
    updatedAt = TimestampField(source="updated_at")  # noqa: N815
    createdBy = serializers.CharField(source="created_by")  # noqa: N815
    client = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    archived = serializers.SerializerMethodField()
    truncationStatus = serializers.SerializerMethodField()  # noqa: N815
    ticketId = IdField(source="ticket_id", help_text="(extension) the message's ticket.")  # noqa: N815

    def get_type(self, message: Message) -> str:
        return "MESSAGE"

    def get_archived(self, message: Message) -> bool:
        return False

    def get_truncationStatus(self, message: Message) -> str:  # noqa: N802
        return "NOT_TRUNCATED"

    @extend_schema_field(AttachmentOutputSerializer(many=True))
    def get_attachments(self, message: Message) -> list[dict[str, Any]]:
        return [attachment_to_api(attachment) for attachment in message.attachments.all()]

    @extend_schema_field(ClientOutputSerializer)
    def get_client(self, message: Message) -> dict[str, Any]:
        return _client_to_api(message)

    @extend_schema_field(StatusOutputSerializer)
    def get_status(self, message: Message) -> dict[str, Any]:
        return _status_to_api(message)


def _client_to_api(message: Message) -> dict[str, Any]:
    client: dict[str, Any] = {"clientType": message.client_type}
    if message.client_type == Message.ClientType.INTEGRATION and message.app_id:
        client["integrationAppId"] = message.app_id
    return client


def _status_to_api(message: Message) -> dict[str, Any]:
    status: dict[str, Any] = {
        "statusType": str(API_STATUS_TYPES.get(message.status, message.status))  # type: ignore[call-overload]
    }
    if message.status == MessageStatus.FAILED:
        status["failureDetails"] = {"errorMessage": message.failure_reason}
    return status


def attachment_to_api(attachment: Attachment) -> dict[str, Any]:
    if attachment.type != Attachment.Type.FILE or attachment.file is None:
        return {**attachment.data, "type": attachment.type}
    file = attachment.file
    body: dict[str, Any] = {
        "type": attachment.type,
        "fileId": str(file.pk),
        "fileUsageType": attachment.file_usage_type or "OTHER",
        "name": file.name,
        "url": file_url(file),
        "contentType": file.content_type,
    }
    return body


def _str(value: Any) -> str | None:
    """Ids and texts as the API renders them: strings, or null."""
    return None if value is None else str(value)


def _participants_to_api(participants: Any) -> list[dict[str, Any]] | None:
    """Stored participants as ``ParticipantOutputSerializer`` renders them: the keys it knows,
    those present only."""
    if participants is None:
        return None
    rendered = []
    for participant in participants:
        body: dict[str, Any] = {}
        if "actorId" in participant:
            body["actorId"] = _str(participant["actorId"])
        if "name" in participant:
            body["name"] = _str(participant["name"])
        if "deliveryIdentifier" in participant:
            identifier = participant["deliveryIdentifier"]
            body["deliveryIdentifier"] = (
                None
                if identifier is None
                else {"type": identifier["type"], "value": _str(identifier["value"])}
            )
        rendered.append(body)
    return rendered


def message_body(message: Message) -> dict[str, Any]:
    """The message object of ``MessageOutputSerializer``, field for field, in its order.
    Reads ``message.attachments.all()``: prefetch them (``messages_to_api`` does)."""
    return {
        "id": _str(message.pk),
        "type": "MESSAGE",
        "conversationsThreadId": _str(message.thread_id),
        "channelId": _str(message.channel_id),
        "channelAccountId": _str(message.channel_account_id),
        "direction": _str(message.direction),
        "text": _str(message.text),
        "richText": _str(message.rich_text),
        "attachments": [attachment_to_api(attachment) for attachment in message.attachments.all()],
        "senders": _participants_to_api(message.senders),
        "recipients": _participants_to_api(message.recipients),
        "inReplyToId": _str(message.in_reply_to_id),
        "createdAt": format_timestamp(message.created_at),
        "updatedAt": format_timestamp(message.updated_at),
        "createdBy": _str(message.created_by),
        "client": _client_to_api(message),
        "status": _status_to_api(message),
        "archived": False,
        "truncationStatus": "NOT_TRUNCATED",
        "ticketId": _str(message.ticket_id),
    }


def messages_to_api(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Message objects for many messages, fetching their attachments and files in one query."""
    unfetched = [
        message
        for message in messages
        if "attachments" not in getattr(message, "_prefetched_objects_cache", {})
    ]
    if unfetched:
        prefetch_related_objects(unfetched, attachments_prefetch())
    return [message_body(message) for message in messages]


def message_to_api(message: Message) -> dict[str, Any]:
    """The message object of one message (one query for its attachments unless prefetched)."""
    return messages_to_api([message])[0]
