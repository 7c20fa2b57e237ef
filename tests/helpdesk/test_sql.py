"""The hand-written hot-path queries (``helpdesk.sql``) read rows exactly as the ORM does, and
the thread lock locks the thread's row alone."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Model

from channels_app.models import ChannelAccount
from channels_app.selectors import channel_account_get_for_publish
from helpdesk.sql import ModelColumns, for_update_of
from tests.factories import AppFactory, ChannelAccountFactory, ContactFactory, default_pipeline
from tickets.models import ContactIdentifier, Thread, Ticket
from tickets.publish import _open_thread_locked


def _field_values(instance: Model) -> dict[str, Any]:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def _thread(account: ChannelAccount, *, key: str, identifier: ContactIdentifier | None) -> Thread:
    pipeline = default_pipeline()
    status = pipeline.statuses.order_by("display_order").first()
    contact = identifier.contact if identifier else ContactFactory()
    ticket = Ticket.objects.create(
        name="Printer on fire",
        pipeline=pipeline,
        status=status,
        state=status.state,
        contact=contact,
        channel_account=account,
        category="hardware",
    )
    return Thread.objects.create(
        ticket=ticket,
        channel_account=account,
        contact=contact,
        contact_identifier=identifier,
        integration_thread_id=key,
        threading_key=f"t:{key}",
    )


@pytest.mark.django_db
def test_the_account_for_publish_reads_every_field_as_the_orm_does():
    account = ChannelAccountFactory(credentials={"apiKey": "s3cret", "nested": {"region": "eu"}})
    channel = account.channel

    found = channel_account_get_for_publish(
        app=channel.app, channel_id=channel.pk, account_id=account.pk
    )

    assert found is not None
    expected_account = ChannelAccount.objects.get(pk=account.pk)
    assert _field_values(found) == _field_values(expected_account)
    assert _field_values(found.channel) == _field_values(type(channel).objects.get(pk=channel.pk))
    # Encrypted fields decrypt on access, JSON is decoded, datetimes are aware.
    assert found.credentials == {"apiKey": "s3cret", "nested": {"region": "eu"}}
    assert found.channel.signing_secret == channel.signing_secret
    assert found.channel.capabilities["threadingModel"] == "INTEGRATION_THREAD_ID"
    assert found.created_at == expected_account.created_at
    assert found.created_at.tzinfo is not None
    assert found.channel.app is channel.app
    # A loaded instance saves as an update, not as a new row.
    found.name = "Renamed line"
    found.save(update_fields=["name"])
    assert ChannelAccount.objects.get(pk=account.pk).name == "Renamed line"


@pytest.mark.django_db
def test_the_account_for_publish_is_none_for_another_app_or_an_archived_account():
    account = ChannelAccountFactory()
    channel = account.channel

    assert (
        channel_account_get_for_publish(
            app=AppFactory(), channel_id=channel.pk, account_id=account.pk
        )
        is None
    )
    ChannelAccount.objects.filter(pk=account.pk).update(archived=True)
    assert (
        channel_account_get_for_publish(
            app=channel.app, channel_id=channel.pk, account_id=account.pk
        )
        is None
    )


@pytest.mark.django_db
def test_the_open_thread_comes_with_its_ticket_and_identifier_read_as_the_orm_does():
    account = ChannelAccountFactory()
    contact = ContactFactory()
    identifier = ContactIdentifier.objects.create(
        contact=contact, kind=ContactIdentifier.Kind.PHONE, value="+14155550100"
    )
    thread = _thread(account, key="conv-1", identifier=identifier)

    with transaction.atomic():
        found = _open_thread_locked(account, "t:conv-1")

    assert found is not None
    assert _field_values(found) == _field_values(Thread.objects.get(pk=thread.pk))
    assert _field_values(found.ticket) == _field_values(Ticket.objects.get(pk=thread.ticket_id))
    assert found.contact_identifier is not None
    assert _field_values(found.contact_identifier) == _field_values(identifier)
    assert found.ticket.category == "hardware"


@pytest.mark.django_db
def test_a_thread_without_an_identifier_reads_none_from_the_left_join():
    account = ChannelAccountFactory()
    _thread(account, key="conv-2", identifier=None)

    with transaction.atomic():
        found = _open_thread_locked(account, "t:conv-2")
        missing = _open_thread_locked(account, "t:no-such-conversation")

    assert found is not None
    assert found.contact_identifier is None
    assert found.contact_identifier_id is None
    assert missing is None


@pytest.mark.django_db
def test_instance_or_none_is_none_only_when_the_primary_key_is_null():
    columns = ModelColumns(ContactIdentifier, "i")
    identifier = ContactIdentifier.objects.create(
        contact=ContactFactory(), kind=ContactIdentifier.Kind.EMAIL, value="ada@example.com"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 7, {columns.sql} FROM {columns.table} i WHERE i.id = %s",  # noqa: S608
            [identifier.pk],
        )
        row = cursor.fetchone()

    read = columns.instance_or_none(row, 1)
    assert read is not None
    assert _field_values(read) == _field_values(identifier)
    assert columns.instance_or_none((7,) + (None,) * len(columns), 1) is None


@pytest.mark.django_db
def test_for_update_of_is_empty_where_the_database_has_no_row_locks():
    if connection.vendor == "postgresql":
        assert for_update_of("t") == " FOR UPDATE OF t"
    else:
        assert for_update_of("t") == ""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_thread_lock_holds_the_thread_row_and_not_its_ticket():
    account = ChannelAccountFactory()
    thread = _thread(account, key="conv-3", identifier=None)
    settings = connection.settings_dict
    results: dict[str, str] = {}
    locked = threading.Event()
    checked = threading.Event()

    def other_connection() -> None:
        locked.wait(10)
        with psycopg.connect(
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
            user=settings["USER"],
            dbname=settings["NAME"],
            autocommit=True,
        ) as other:
            for table, pk in (("tickets_thread", thread.pk), ("tickets_ticket", thread.ticket_id)):
                try:
                    other.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])  # noqa: S608
                    results[table] = "free"
                except psycopg.errors.LockNotAvailable:
                    results[table] = "locked"
        checked.set()

    worker = threading.Thread(target=other_connection)
    worker.start()
    with transaction.atomic():
        assert _open_thread_locked(account, "t:conv-3") is not None
        locked.set()
        checked.wait(10)
    worker.join(10)

    assert results == {"tickets_thread": "locked", "tickets_ticket": "free"}
