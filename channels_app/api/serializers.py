"""Serializer fields and output serializers shared by the channel, account and inbox APIs.

Input fields are strict where HubSpot is (booleans are JSON booleans, ids are ids) and delegate
the channel-specific rules to ``channels_app.capabilities``, whose problem paths are turned into
DRF's nested error detail, so the error handler reports them as ``capabilities.threadingModel``
or ``channelAccountConnectionFields[1].type``. No output serializer here carries a secret except
``ChannelWithSecretOutputSerializer``, used only by the create and rotate responses.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from channels_app.capabilities import (
    CONNECTION_FIELD_TYPES,
    DELIVERY_IDENTIFIER_TYPES,
    OUTGOING_ATTACHMENT_TYPES,
    RICH_TEXT_FEATURES,
    THREADING_MODELS,
    InvalidInputError,
    capabilities_clean,
    capabilities_with_defaults,
    connection_fields_clean,
    delivery_identifier_clean,
    http_url_problem,
)
from helpdesk.api_fields import IdField, TimestampField, parse_id

_PATH_TOKEN_RE = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _path_tokens(path: str) -> list[str | int]:
    return [
        int(index) if index else key for index, key in _PATH_TOKEN_RE.findall(path) if index or key
    ]


def problems_to_detail(errors: list[dict[str, str]]) -> Any:
    """``[{message, in, code}]`` with paths relative to one field → DRF's nested error detail
    (dicts for keys, lists for indexes), which ``flatten_validation_errors`` turns back into
    the same paths under the field's name."""
    tree: dict[Any, Any] = {}
    for error in errors:
        node = tree
        path = "" if error["in"] == "body" else error["in"]
        for token in _path_tokens(path):
            node = node.setdefault(token, {})
        node.setdefault("_messages", []).append(ErrorDetail(error["message"], code=error["code"]))
    return _finish(tree)


def _finish(node: dict[Any, Any]) -> Any:
    messages = node.get("_messages", [])
    children = {key: value for key, value in node.items() if key != "_messages"}
    if not children:
        return messages
    if messages:
        # A field cannot both be wrong as a whole and have wrong parts; keep the whole.
        return messages
    if all(isinstance(key, int) for key in children):
        # Unlisted indexes are valid items: empty entries, which the flattener skips.
        items: list[Any] = [[] for _ in range(max(children) + 1)]
        for index, child in children.items():
            items[index] = _finish(child)
        return items
    return {str(key): _finish(child) for key, child in children.items()}


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true``/``false`` only (DRF's BooleanField would take ``"yes"`` or ``1``)."""

    default_error_messages = {"invalid": "must be true or false"}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class HttpUrlField(serializers.CharField):
    """An absolute http(s) URL with a host, or ``""`` to clear it. No DNS lookup (that happens
    when a webhook is sent)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value:
            problem = http_url_problem(value)
            if problem:
                raise serializers.ValidationError(problem, code="invalid")
        return value


@extend_schema_field(OpenApiTypes.STR)
class ObjectIdField(serializers.Field):
    """An id in a request body: a positive integer or its decimal string (HubSpot's SDKs send
    strings). Anything else, including ``true`` and ``1.5``, is refused."""

    default_error_messages = {"invalid": "must be an id (digits)"}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        pk = parse_id(str(data), self.field_name or "id")
        if pk is None or pk < 1:
            self.fail("invalid")
        return pk

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_serializer(component_name="ChannelAccountDeliveryIdentifier")
class DeliveryIdentifierSerializer(serializers.Serializer):
    """``{type, value}``: how a contact or an account is reached on the channel."""

    type = serializers.ChoiceField(choices=DELIVERY_IDENTIFIER_TYPES)
    value = serializers.CharField()


@extend_schema_field(DeliveryIdentifierSerializer)
class DeliveryIdentifierField(serializers.Field):
    """A ``{type, value}`` checked against the channel in the serializer's context (its
    ``deliveryIdentifierTypes``), with the value normalised (email lower-cased, phone E.164)."""

    def to_internal_value(self, data: Any) -> dict[str, str]:
        channel = self.context.get("channel")
        allowed = channel.capabilities.get("deliveryIdentifierTypes") or () if channel else ()
        try:
            identifier = delivery_identifier_clean(data, allowed_types=allowed, path="")
        except InvalidInputError as error:
            raise serializers.ValidationError(problems_to_detail(error.errors)) from error
        if identifier is None:
            # Unreachable through DRF (``null`` is handled by ``allow_null``); kept for callers.
            raise serializers.ValidationError("must be an object {type, value}", code="null")
        identifier_type, value = identifier
        return {"type": identifier_type, "value": value}

    def to_representation(self, value: Any) -> Any:
        return value


class CapabilitiesSerializer(serializers.Serializer):
    """The schema of ``capabilities`` (the rules themselves are in ``capabilities_clean``).

    In responses every boolean and list is present; the three limits only when set."""

    deliveryIdentifierTypes = serializers.ListField(  # noqa: N815 - the API's JSON names
        child=serializers.ChoiceField(choices=DELIVERY_IDENTIFIER_TYPES), required=False
    )
    threadingModel = serializers.ChoiceField(choices=THREADING_MODELS, required=False)  # noqa: N815
    richText = serializers.ListField(  # noqa: N815
        child=serializers.ChoiceField(choices=RICH_TEXT_FEATURES), required=False
    )
    allowInlineImages = serializers.BooleanField(required=False)  # noqa: N815
    allowOutgoingMessages = serializers.BooleanField(required=False)  # noqa: N815
    allowConversationStart = serializers.BooleanField(required=False)  # noqa: N815
    allowMultipleRecipients = serializers.BooleanField(required=False)  # noqa: N815
    outgoingAttachmentTypes = serializers.ListField(  # noqa: N815
        child=serializers.ChoiceField(choices=OUTGOING_ATTACHMENT_TYPES), required=False
    )
    allowedFileAttachmentMimeTypes = serializers.ListField(  # noqa: N815
        child=serializers.CharField(), required=False
    )
    maxFileAttachmentCount = serializers.IntegerField(min_value=0, required=False)  # noqa: N815
    maxFileAttachmentSizeBytes = serializers.IntegerField(min_value=0, required=False)  # noqa: N815
    maxTotalFileAttachmentSizeBytes = serializers.IntegerField(  # noqa: N815
        min_value=0, required=False
    )


@extend_schema_field(CapabilitiesSerializer)
class CapabilitiesField(serializers.Field):
    """``capabilities`` in and out: validated and normalised by ``capabilities_clean``."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return capabilities_clean(data, path="")
        except InvalidInputError as error:
            raise serializers.ValidationError(problems_to_detail(error.errors)) from error

    def to_representation(self, value: Any) -> dict[str, Any]:
        return capabilities_with_defaults(value)


class ConnectionFieldSerializer(serializers.Serializer):
    """**(extension)** One credential field an admin fills in when connecting an account."""

    name = serializers.CharField()
    # ``label`` and ``required`` are also attributes of DRF's Field (the serializer's own);
    # the metaclass moves declared fields aside, only the stubs see a clash.
    label = serializers.CharField(required=False)  # type: ignore[assignment]
    type = serializers.ChoiceField(choices=CONNECTION_FIELD_TYPES)
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    helpText = serializers.CharField(required=False)  # noqa: N815
    options = serializers.ListField(child=serializers.CharField(), required=False)


@extend_schema_field(ConnectionFieldSerializer(many=True))
class ConnectionFieldsField(serializers.Field):
    """``channelAccountConnectionFields`` in and out, checked by ``connection_fields_clean``."""

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        try:
            return connection_fields_clean(data, path="")
        except InvalidInputError as error:
            raise serializers.ValidationError(problems_to_detail(error.errors)) from error

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return list(value or [])


class BlankAsNullCharField(serializers.CharField):
    """An optional text stored as ``""``, answered as ``null`` (a URL client would choke on an
    empty string)."""

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


class ChannelOutputSerializer(serializers.Serializer):
    """A custom channel as the API answers it. Never carries a signing secret."""

    id = IdField(source="pk")
    name = serializers.CharField()
    webhookUrl = BlankAsNullCharField(source="webhook_url", allow_null=True)  # noqa: N815
    channelAccountConnectionRedirectUrl = BlankAsNullCharField(  # noqa: N815
        source="account_connection_redirect_url", allow_null=True
    )
    channelDescription = BlankAsNullCharField(source="description", allow_null=True)  # noqa: N815
    channelLogoUrl = BlankAsNullCharField(source="logo_url", allow_null=True)  # noqa: N815
    capabilities = CapabilitiesField()
    channelAccountConnectionFields = ConnectionFieldsField(source="connection_fields")  # noqa: N815
    createdAt = TimestampField(source="created_at")  # noqa: N815
    updatedAt = TimestampField(source="updated_at")  # noqa: N815
    archived = serializers.BooleanField()


class ChannelWithSecretOutputSerializer(ChannelOutputSerializer):
    """The channel plus its webhook signing secret: only the create and rotate responses."""

    webhookSigningSecret = serializers.CharField(source="signing_secret")  # noqa: N815


class ChannelAccountOutputSerializer(serializers.Serializer):
    """A channel account, field for field as HubSpot's (credentials never appear here)."""

    id = IdField(source="pk")
    channelId = IdField(source="channel_id")  # noqa: N815
    inboxId = IdField(source="inbox_id")  # noqa: N815
    name = serializers.CharField()
    active = serializers.BooleanField()
    authorized = serializers.BooleanField()
    archived = serializers.BooleanField()
    archivedAt = TimestampField(source="archived_at", allow_null=True)  # noqa: N815
    createdAt = TimestampField(source="created_at")  # noqa: N815
    deliveryIdentifier = DeliveryIdentifierSerializer(  # noqa: N815
        source="delivery_identifier", allow_null=True
    )


class PagingNextSerializer(serializers.Serializer):
    after = serializers.CharField()


class PagingSerializer(serializers.Serializer):
    next = PagingNextSerializer()
