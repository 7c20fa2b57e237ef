"""The baseline of ``bench/ingest.py``: an authenticated DRF view that validates the same body
as ``POST .../messages`` and inserts one row. What our endpoint does beyond this (idempotency,
contacts, threads, tickets, routing) is what the benchmark's ratio prices."""

from typing import Any

from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.models import BaselineMessage


class DeliveryIdentifierSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["HS_EMAIL_ADDRESS", "HS_PHONE_NUMBER", "CHANNEL_SPECIFIC_OPAQUE_ID"]
    )
    value = serializers.CharField(max_length=320)


class ParticipantSerializer(serializers.Serializer):
    deliveryIdentifier = DeliveryIdentifierSerializer()  # noqa: N815
    name = serializers.CharField(required=False, allow_blank=True)


class BaselineMessageApi(APIView):
    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(allow_blank=True)
        messageDirection = serializers.ChoiceField(choices=["INCOMING", "OUTGOING"])  # noqa: N815
        channelAccountId = serializers.IntegerField()  # noqa: N815
        senders = ParticipantSerializer(many=True)
        recipients = ParticipantSerializer(many=True, required=False)
        timestamp = serializers.DateTimeField(required=False)
        integrationThreadId = serializers.CharField(required=False)  # noqa: N815
        attachments = serializers.ListField(child=serializers.DictField(), required=False)

    def post(self, request: Request, channel_id: str, **kwargs: Any) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row = BaselineMessage.objects.create(
            channel_id=int(channel_id),
            channel_account_id=data["channelAccountId"],
            direction=data["messageDirection"],
            text=data["text"],
            sender=data["senders"][0]["deliveryIdentifier"]["value"],
            integration_thread_id=data.get("integrationThreadId", ""),
            timestamp=data.get("timestamp") or timezone.now(),
        )
        return Response({"id": str(row.pk)}, status=status.HTTP_201_CREATED)
