"""Outbound delivery, in-process: a real local receiver, retries, final failures, redelivery.

The same behaviour with a real Celery worker and Redis is in ``test_delivery_worker.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from channels_app.deliveries import (
    RedeliveryRefused,
    channel_account_event_enqueue,
    deliveries_dispatch_due,
    deliveries_send,
    delivery_attempt,
    delivery_redeliver,
    event_enqueue,
    webhook_reenable,
)
from channels_app.models import CustomChannel, Delivery, DeliveryAttempt
from channels_app.signing import signing_secret_generate
from tests.factories import ChannelAccountFactory
from tests.receiver import Answer, running_receiver
from tests.tickets.factories import pending_reply
from tickets.models import Message, MessageStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WEBHOOK_RETRY_DELAY_SCALE = 0
    settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS = 2
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 1


def _account(webhook_url: str):
    account = ChannelAccountFactory(channel__signing_secret=signing_secret_generate())
    CustomChannel.objects.filter(pk=account.channel_id).update(webhook_url=webhook_url)
    account.channel.refresh_from_db()
    return account


def _enqueue_reply(account, message: Message) -> Delivery:
    return event_enqueue(
        channel=account.channel,
        event_type=Delivery.EventType.OUTGOING_CHANNEL_MESSAGE_CREATED,
        payload={"channelId": str(account.channel_id), "message": {"id": str(message.pk)}},
        channel_account_id=account.pk,
        message_id=message.pk,
    )


def _hubspot_v3(secret: str, url: str, body: bytes, timestamp: str) -> str:
    digest = hmac.new(
        secret.encode(), b"POST" + url.encode() + body + timestamp.encode(), hashlib.sha256
    )
    return base64.b64encode(digest.digest()).decode()


def test_nothing_leaves_before_commit_and_the_event_arrives_once_signed_both_ways(
    django_capture_on_commit_callbacks,
):
    with running_receiver() as receiver:
        account = _account(receiver.url)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            delivery = channel_account_event_enqueue(
                account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
            )
        assert receiver.requests == []
        assert callbacks, "the worker is woken only after commit"
        for callback in callbacks:
            callback()

        [request] = receiver.wait_for(1)
        delivery.refresh_from_db()
        channel = account.channel
        assert delivery.status == Delivery.Status.SUCCEEDED
        assert request.headers["webhook-id"] == str(delivery.event_id)
        # The official Standard Webhooks verification rule.
        body = Webhook(channel.signing_secret).verify(request.body, request.headers)
        # HubSpot v3, computed independently.
        assert request.headers["x-hubspot-signature-v3"] == _hubspot_v3(
            channel.app.client_secret,
            receiver.url,
            request.body,
            request.headers["x-hubspot-request-timestamp"],
        )
        assert body == {
            "type": "CHANNEL_ACCOUNT_UPDATED",
            "eventId": str(delivery.event_id),
            "eventTimestamp": body["eventTimestamp"],
            "portalId": 1,
            "channelId": str(account.channel_id),
            "channelAccountId": str(account.pk),
            "channelAccountDeliveryIdentifier": {
                "type": "HS_PHONE_NUMBER",
                "value": account.delivery_identifier_value,
            },
            "authorized": True,
            "active": True,
        }
        assert "credentials" not in json.dumps(body)


def test_server_errors_are_retried_with_the_same_webhook_id(django_capture_on_commit_callbacks):
    with running_receiver([Answer(500), Answer(500)], default=Answer(200)) as receiver:
        account = _account(receiver.url)
        message = pending_reply(account)
        with django_capture_on_commit_callbacks(execute=True):
            delivery = _enqueue_reply(account, message)
        requests = receiver.wait_for(3)

    delivery.refresh_from_db()
    message.refresh_from_db()
    assert len(requests) == 3
    assert {r.headers["webhook-id"] for r in requests} == {str(delivery.event_id)}
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempts == 3
    assert list(delivery.attempt_log.values_list("status_code", "outcome")) == [
        (500, "retry"),
        (500, "retry"),
        (200, "succeeded"),
    ]
    assert message.status == MessageStatus.SENT


def test_429_waits_as_long_as_retry_after_says(django_capture_on_commit_callbacks):
    with running_receiver([Answer(429, headers={"Retry-After": "120"})]) as receiver:
        account = _account(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            delivery = channel_account_event_enqueue(
                account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
            )
        receiver.wait_for(1)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 110 < wait <= 120
    assert delivery.last_status_code == 429


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(400), "refused the event (HTTP 400)"),
        (Answer(301, headers={"Location": "/elsewhere"}), "redirects are not followed"),
    ],
)
def test_400_and_redirects_are_final_and_the_reply_fails_with_the_reason(
    answer, reason, django_capture_on_commit_callbacks
):
    with running_receiver([answer], default=Answer(200)) as receiver:
        account = _account(receiver.url)
        message = pending_reply(account)
        with django_capture_on_commit_callbacks(execute=True):
            delivery = _enqueue_reply(account, message)
        requests = receiver.wait_for(2, timeout=1.0)

    assert len(requests) == 1, "a final answer is not retried, and a redirect is not followed"
    delivery.refresh_from_db()
    message.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert message.status == MessageStatus.FAILED
    assert reason in message.failure_reason


def test_410_disables_the_webhook_until_an_admin_reenables_it(django_capture_on_commit_callbacks):
    with running_receiver([Answer(410)], default=Answer(200)) as receiver:
        account = _account(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            gone = channel_account_event_enqueue(
                account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
            )
        receiver.wait_for(1)
        channel = CustomChannel.objects.get(pk=account.channel_id)
        assert channel.webhook_disabled_at is not None
        gone.refresh_from_db()
        assert gone.status == Delivery.Status.FAILED

        with django_capture_on_commit_callbacks(execute=True):
            waiting = channel_account_event_enqueue(
                account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
            )
        deliveries_dispatch_due()
        assert len(receiver.requests) == 1, "nothing is sent while the webhook is disabled"
        with pytest.raises(RedeliveryRefused, match="re-enable"):
            delivery_redeliver(delivery=gone)

        with django_capture_on_commit_callbacks(execute=True):
            webhook_reenable(channel=channel)
        receiver.wait_for(2)
    waiting.refresh_from_db()
    assert waiting.status == Delivery.Status.SUCCEEDED


def test_a_timeout_is_retried(settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS = 0.3
    with running_receiver([Answer(200, delay=1.0)], default=Answer(200)) as receiver:
        account = _account(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            delivery = channel_account_event_enqueue(
                account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
            )
        receiver.wait_for(2)
    delivery.refresh_from_db()
    first, second = delivery.attempt_log.all()
    assert first.outcome == DeliveryAttempt.Outcome.RETRY
    assert "Timed out" in first.error
    assert second.outcome == DeliveryAttempt.Outcome.SUCCEEDED
    assert delivery.status == Delivery.Status.SUCCEEDED


def test_a_final_failure_can_be_redelivered_with_the_same_event_id(
    settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    with running_receiver([Answer(503)] * 3, default=Answer(200)) as receiver:
        account = _account(receiver.url)
        message = pending_reply(account)
        with django_capture_on_commit_callbacks(execute=True):
            delivery = _enqueue_reply(account, message)
        receiver.wait_for(3)
        delivery.refresh_from_db()
        message.refresh_from_db()
        assert delivery.status == Delivery.Status.FAILED
        assert message.status == MessageStatus.FAILED
        assert message.failure_reason.startswith("Gave up after 3 attempts")

        with django_capture_on_commit_callbacks(execute=True):
            delivery_redeliver(delivery=delivery)
        requests = receiver.wait_for(4)

    delivery.refresh_from_db()
    message.refresh_from_db()
    assert requests[-1].headers["webhook-id"] == str(delivery.event_id)
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert message.status == MessageStatus.SENT
    assert message.failure_reason == ""


def test_a_delivery_is_claimed_once_and_never_sent_again_after_success(
    django_capture_on_commit_callbacks,
):
    with running_receiver() as receiver:
        account = _account(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            delivery = channel_account_event_enqueue(
                account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
            )
        assert delivery_attempt(delivery_id=delivery.pk) is None
        assert deliveries_dispatch_due() == 0
        receiver.wait_for(2, timeout=0.5)
    assert len(receiver.requests) == 1


def test_the_sweeper_reclaims_the_lease_of_a_worker_that_died():
    with running_receiver() as receiver:
        account = _account(receiver.url)
        delivery = Delivery.objects.create(
            event_id="6f1c7a5e-4c47-4a5b-9d8e-0a3c2b1d0e9f",
            event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED,
            channel=account.channel,
            payload={"type": "CHANNEL_ACCOUNT_UPDATED"},
            status=Delivery.Status.DELIVERING,
            attempts=1,
            lease_expires_at=timezone.now() - timedelta(seconds=1),
        )
        assert deliveries_dispatch_due() == 1
        receiver.wait_for(1)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempts == 2


def test_during_rotation_both_secrets_sign(django_capture_on_commit_callbacks):
    with running_receiver() as receiver:
        account = _account(receiver.url)
        old_secret = account.channel.signing_secret
        new_secret = signing_secret_generate()
        CustomChannel.objects.filter(pk=account.channel_id).update(
            signing_secret=new_secret,
            previous_signing_secret=old_secret,
            previous_signing_secret_expires_at=timezone.now() + timedelta(hours=24),
        )
        account.channel.refresh_from_db()
        with django_capture_on_commit_callbacks(execute=True):
            channel_account_event_enqueue(
                account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
            )
        [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)


def test_a_channel_without_webhook_url_fails_the_reply_at_once():
    account = _account("")
    message = pending_reply(account)
    delivery = _enqueue_reply(account, message)
    message.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert message.status == MessageStatus.FAILED
    assert message.failure_reason == "The channel has no webhook URL."


@pytest.mark.parametrize("count", [1, 20])
def test_sending_a_channels_deliveries_costs_the_same_queries_for_1_or_20(
    count, django_assert_num_queries
):
    with running_receiver() as receiver:
        account = _account(receiver.url)
        deliveries = Delivery.objects.bulk_create(
            Delivery(
                event_id=uuid.uuid4(),
                event_type=Delivery.EventType.OUTGOING_CHANNEL_MESSAGE_CREATED,
                channel=account.channel,
                message=pending_reply(account),
                payload={"type": "OUTGOING_CHANNEL_MESSAGE_CREATED", "message": {}},
                next_attempt_at=timezone.now(),
            )
            for _ in range(count)
        )
        # Each transaction adds a savepoint pair (the test runs inside one). Claim: lock due rows,
        # mark them; load with channel and app; record: lock, insert attempts, mark succeeded,
        # lock the pending messages, mark them sent, their live events (message.status_changed);
        # then the claim that finds nothing left.
        with django_assert_num_queries(16):
            deliveries_send(channel_id=account.channel_id)
        receiver.wait_for(count)
    assert (
        Delivery.objects.filter(
            pk__in=[d.pk for d in deliveries], status=Delivery.Status.SUCCEEDED
        ).count()
        == count
    )
    assert Message.objects.filter(status=MessageStatus.SENT).count() == count
