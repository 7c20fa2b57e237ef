"""Concurrent publishing against PostgreSQL: the unique constraints, not luck, prevent duplicates.

Each test starts N threads, each with its own API client and database connection, held at a
barrier so their requests overlap; the database must then hold exactly one of what they raced
to create, and every loser must answer with the winner's message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.conftest import AppClient, make_app_client
from tests.factories import default_pipeline
from tests.tickets.factories import channel_with_account, message_body, messages_url, sender
from tickets.models import Contact, IdempotencyRecord, Message, Thread, Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


@pytest.fixture
def racer() -> AppClient:
    # Transactional tests flush the database between tests, migration data included.
    default_pipeline()
    return make_app_client()


def _race(token: str, requests: list[Callable[[APIClient], Any]]) -> list[Any]:
    """Runs each request in its own thread, all released at once; returns the responses."""
    barrier = threading.Barrier(len(requests))
    responses: list[Any] = [None] * len(requests)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            barrier.wait(timeout=30)
            responses[index] = requests[index](client)
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return responses


def _post(channel: Any, body: dict[str, Any], **headers: str) -> Callable[[APIClient], Any]:
    return lambda client: client.post(messages_url(channel), body, format="json", **headers)


def _assert_one_winner(responses: list[Any]) -> str:
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * (len(responses) - 1) + [201], [r.content for r in responses]
    ids = {response.json()["id"] for response in responses}
    assert len(ids) == 1
    for response in responses:
        if response.status_code == 200:
            assert response["Idempotent-Replayed"] == "true"
    return ids.pop()


def test_concurrent_posts_of_one_integration_idempotency_id_create_one_message(racer):
    channel, account = channel_with_account(racer.app)
    body = message_body(account, integrationThreadId="conv", integrationIdempotencyId="wamid.1")

    responses = _race(racer.token, [_post(channel, body) for _ in range(THREADS)])

    message_id = _assert_one_winner(responses)
    assert Message.objects.get().pk == int(message_id)
    # The losers' contacts, tickets and threads were rolled back with their attempts.
    assert Thread.objects.count() == 1
    assert Contact.objects.count() == 1


def test_concurrent_posts_with_one_idempotency_key_create_one_message(racer):
    channel, account = channel_with_account(racer.app)
    body = message_body(account, integrationThreadId="conv")

    responses = _race(
        racer.token,
        [_post(channel, body, HTTP_IDEMPOTENCY_KEY="retry-1") for _ in range(THREADS)],
    )

    _assert_one_winner(responses)
    assert Message.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_concurrent_reuse_of_a_key_with_two_bodies_keeps_one_message(racer):
    channel, account = channel_with_account(racer.app)
    first = message_body(account, text="first")
    second = message_body(account, text="second")
    requests = [
        _post(channel, first if index % 2 else second, HTTP_IDEMPOTENCY_KEY="k")
        for index in range(THREADS)
    ]

    responses = _race(racer.token, requests)

    assert Message.objects.count() == 1
    winner_text = Message.objects.get().text
    for index, response in enumerate(responses):
        sent = "first" if index % 2 else "second"
        if sent == winner_text:
            assert response.status_code in (200, 201)
        else:
            assert response.status_code == 422


def test_concurrent_first_messages_of_one_contact_share_one_thread(racer):
    channel, account = channel_with_account(racer.app, threading_model="DELIVERY_IDENTIFIER")
    requests = [
        _post(channel, message_body(account, senders=[sender("+15550107777", name="Racer")]))
        for _ in range(THREADS)
    ]

    responses = _race(racer.token, requests)

    assert [response.status_code for response in responses] == [201] * THREADS
    assert Message.objects.count() == THREADS
    assert Thread.objects.count() == 1
    assert Contact.objects.count() == 1
    assert len({response.json()["ticketId"] for response in responses}) == 1


def test_concurrent_messages_of_one_integration_thread_share_one_thread(racer):
    channel, account = channel_with_account(racer.app)
    requests = [
        _post(
            channel,
            message_body(
                account, integrationThreadId="shared", senders=[sender(f"+1555010{index:04d}")]
            ),
        )
        for index in range(THREADS)
    ]

    responses = _race(racer.token, requests)

    assert [response.status_code for response in responses] == [201] * THREADS
    assert Thread.objects.count() == 1
    assert Contact.objects.count() == THREADS


def _sequence_value(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_value FROM pg_sequences WHERE sequencename = %s", [f"{table}_id_seq"]
        )
        return int(cursor.fetchone()[0] or 0)


def test_concurrent_first_messages_of_a_conversation_queue_for_its_creation(racer):
    """The first messages of one conversation from a new customer, all at once: one creates
    the contact, ticket and thread; the others wait for it (the thread's creation lock) and
    join its thread without writing a contact or ticket of their own that would be thrown away.
    """
    channel, account = channel_with_account(racer.app)
    body = message_body(
        account, integrationThreadId="burst", senders=[sender("+15550108888", name="Burst")]
    )
    tickets_before = _sequence_value("tickets_ticket")
    contacts_before = _sequence_value("tickets_contact")

    responses = _race(racer.token, [_post(channel, body) for _ in range(THREADS)])

    assert [response.status_code for response in responses] == [201] * THREADS
    assert len({response.json()["conversationsThreadId"] for response in responses}) == 1
    assert (Thread.objects.count(), Contact.objects.count(), Message.objects.count()) == (
        1,
        1,
        THREADS,
    )
    # Not one attempt was rolled back: each insert took the next id of its table.
    assert _sequence_value("tickets_ticket") - tickets_before == 1
    assert _sequence_value("tickets_contact") - contacts_before == 1


def test_concurrent_follow_ups_of_one_thread_land_in_it_and_keep_the_latest_time(racer):
    """Concurrent follow-ups all land in the open thread, and the ticket's last message time
    ends at the latest of them, whatever the order in which they commit."""
    channel, account = channel_with_account(racer.app)
    body = message_body(account, integrationThreadId="busy", timestamp="2026-11-25T09:00:00.000Z")
    first = APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Bearer {racer.token}")
    opened = _post(channel, body)(first).json()
    requests = [
        _post(channel, {**body, "timestamp": f"2026-11-25T10:{minute:02d}:00.000Z"})
        for minute in range(THREADS)
    ]

    responses = _race(racer.token, requests)

    assert [response.status_code for response in responses] == [201] * THREADS
    assert {response.json()["conversationsThreadId"] for response in responses} == {
        opened["conversationsThreadId"]
    }
    ticket = Ticket.objects.get(pk=opened["ticketId"])
    assert ticket.last_message_at.isoformat() == f"2026-11-25T10:{THREADS - 1:02d}:00+00:00"
    assert Thread.objects.count() == 1
