"""Delivery with real parts: PostgreSQL, a Redis broker, real Celery worker processes and a
real local receiver. Nothing is lost to a killed worker or a Redis restart."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook

from channels_app.models import CustomChannel, Delivery
from channels_app.signing import signing_secret_generate
from examples.webhook_verification import verify_hubspot_v3
from tests.channels_app.test_deliveries import _account, _enqueue_reply
from tests.factories import UserFactory
from tests.receiver import Answer, running_receiver
from tests.tickets.factories import channel_with_account, message_body, messages_url, pending_reply
from tests.workers import celery_worker, private_redis, publishing_to
from tickets.models import MessageStatus, Ticket
from tickets.replies import reply_send

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def _wait_until(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _status(delivery: Delivery) -> str:
    return Delivery.objects.values_list("status", flat=True).get(pk=delivery.pk)


@pytest.fixture
def broker(tmp_path):
    with private_redis(tmp_path) as redis_server, publishing_to(redis_server.url):
        yield redis_server


def test_a_reply_arrives_once_signed_and_becomes_sent(broker, tmp_path, app_client):
    """The whole loop: an app posts a customer's message; a rep replies; a real worker delivers
    the reply to the app's receiver, once, verifiable with both signatures."""
    with running_receiver() as receiver, celery_worker(broker.url, tmp_path) as worker:
        channel, account = channel_with_account(app_client.app)
        CustomChannel.objects.filter(pk=channel.pk).update(
            webhook_url=receiver.url, signing_secret=signing_secret_generate()
        )
        posted = app_client.client.post(
            messages_url(channel), message_body(account, integrationThreadId="t-1"), format="json"
        )
        assert posted.status_code == 201
        ticket = Ticket.objects.get(pk=posted.json()["ticketId"])
        message = reply_send(ticket=ticket, author=UserFactory(), text="On its way!")
        delivery = Delivery.objects.get(message=message)
        assert _wait_until(lambda: _status(delivery) == Delivery.Status.SUCCEEDED), worker.log()
        time.sleep(1.5)  # a second sweep must not send it again
        requests = list(receiver.requests)
    assert len(requests) == 1
    channel.refresh_from_db()
    event = Webhook(channel.signing_secret).verify(requests[0].body, requests[0].headers)
    assert (
        verify_hubspot_v3(
            client_secret=app_client.app.client_secret,
            method="POST",
            url=receiver.url,
            headers=requests[0].headers,
            body=requests[0].body,
        )
        == event
    )
    assert event["message"]["text"] == "On its way!"
    assert event["message"]["inReplyToId"] == posted.json()["id"]
    assert event["channelIntegrationThreadIds"] == ["t-1"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_500_twice_then_200_arrives_on_the_third_attempt_with_one_webhook_id(broker, tmp_path):
    with (
        running_receiver([Answer(500), Answer(500)]) as receiver,
        celery_worker(broker.url, tmp_path) as worker,
    ):
        account = _account(receiver.url)
        message = pending_reply(account)
        delivery = _enqueue_reply(account, message)
        assert _wait_until(lambda: _status(delivery) == Delivery.Status.SUCCEEDED), worker.log()
        requests = list(receiver.requests)
    assert len(requests) == 3
    assert {r.headers["webhook-id"] for r in requests} == {str(delivery.event_id)}


def test_429_with_retry_after_waits_that_long(broker, tmp_path):
    answers = [Answer(429, headers={"Retry-After": "2"})]
    with running_receiver(answers) as receiver, celery_worker(broker.url, tmp_path) as worker:
        account = _account(receiver.url)
        delivery = _enqueue_reply(account, pending_reply(account))
        assert _wait_until(lambda: _status(delivery) == Delivery.Status.SUCCEEDED), worker.log()
        first, second = receiver.requests
    assert second.received_at - first.received_at >= 1.9


def test_a_worker_killed_mid_delivery_loses_nothing(broker, tmp_path):
    # The first request hangs long enough to kill the worker while it waits for the answer.
    with running_receiver([Answer(200, delay=5)]) as receiver:
        account = _account(receiver.url)
        message = pending_reply(account)
        with celery_worker(broker.url, tmp_path) as first_worker:
            delivery = _enqueue_reply(account, message)
            assert receiver.wait_for(1, timeout=20), first_worker.log()
            first_worker.kill()
        assert _status(delivery) == Delivery.Status.DELIVERING

        with celery_worker(broker.url, tmp_path) as second_worker:
            # The lease (3 s) expires, the sweeper reclaims it, the new worker delivers it.
            assert _wait_until(lambda: _status(delivery) == Delivery.Status.SUCCEEDED, 30), (
                second_worker.log()
            )
        requests = list(receiver.requests)
    assert len(requests) == 2
    assert requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_restarting_redis_with_deliveries_pending_loses_nothing(broker, tmp_path):
    with running_receiver() as receiver:
        account = _account(receiver.url)
        # No worker yet: the wake-up messages wait in Redis…
        deliveries = [_enqueue_reply(account, pending_reply(account)) for _ in range(3)]
        # …and Redis restarts without persistence, losing them.
        broker.stop()
        broker.start()
        with publishing_to(broker.url), celery_worker(broker.url, tmp_path) as worker:
            assert _wait_until(
                lambda: all(_status(d) == Delivery.Status.SUCCEEDED for d in deliveries), 30
            ), worker.log()
        ids = sorted(r.headers["webhook-id"] for r in receiver.requests)
    assert ids == sorted(str(d.event_id) for d in deliveries)
