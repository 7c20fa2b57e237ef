"""Search (SPEC I2): full text over message bodies, ticket names and contacts, with filters.

The tests without a mark run on whichever database is configured (SQLite's fallback locally,
PostgreSQL's full-text search on CI's second run); the ``postgres`` ones check what only the
full-text path does (phrases, exclusions, the trigger-kept vectors and their index).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.factories import ChannelAccountFactory, ContactFactory, UserFactory
from tests.tickets.factories import inbox_ticket
from tickets.inbox import (
    inbox_view_counts,
    inbox_views_for_user,
    ticket_search,
    tickets_with_activity,
)
from tickets.inbox_filters import InboxFilters, inbox_filters_q, search_uses_full_text
from tickets.models import ContactIdentifier, Message, PipelineStatus, Ticket
from tickets.saved_views import saved_view_create

pytestmark = pytest.mark.django_db

SEARCH = "/inbox/search/"


def found(user: Any, **filters: Any) -> set[int]:
    """Ticket ids of the search's first page, through the selector."""
    return {t.pk for t in ticket_search(user=user, filters=InboxFilters(**filters)).tickets}


def page_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content[:2000]
    return [int(pk) for pk in re.findall(r'data-ticket-id="(\d+)"', response.content.decode())]


@pytest.fixture
def rep() -> Any:
    return UserFactory(username="ada")


def test_finds_a_word_of_a_message_body_and_shows_that_message(rep: Any) -> None:
    hit = inbox_ticket(texts=("My parcel never came", "Hello again?"))
    inbox_ticket(texts=("Nothing to see",))
    client = Client()
    client.force_login(rep)
    response = client.get(SEARCH, {"q": "parcel"})
    assert page_ids(response) == [hit.pk]
    # The row shows the matching message, not the newest one.
    assert "My parcel never came" in response.content.decode()
    assert found(rep, q="PARCEL") == {hit.pk}  # any case


def test_every_word_must_be_somewhere_in_the_conversation(rep: Any) -> None:
    contact = ContactFactory(name="Grace Hopper")
    spread_out = inbox_ticket(contact=contact, texts=("I want a refund", "for the blue parcel"))
    inbox_ticket(texts=("refund please",))
    assert found(rep, q="parcel refund") == {spread_out.pk}
    assert found(rep, q="grace refund") == {spread_out.pk}  # contact and message
    assert found(rep, q="parcel zebra") == set()


def test_finds_a_ticket_by_its_name(rep: Any) -> None:
    ticket = inbox_ticket(name="Broken espresso machine", texts=("hi",))
    inbox_ticket(texts=("hi",))
    assert found(rep, q="espresso") == {ticket.pk}


def test_finds_a_ticket_by_its_contacts_name_email_phone_and_identifiers(rep: Any) -> None:
    contact = ContactFactory(name="Grace Hopper", email="grace@navy.example", phone="+15550142")
    account = ChannelAccountFactory()
    ContactIdentifier.objects.create(
        contact=contact,
        kind=ContactIdentifier.Kind.OPAQUE,
        value="tg-user-8812",
        channel=account.channel,
    )
    ticket = inbox_ticket(contact=contact, account=account, name="Order", texts=("hi",))
    inbox_ticket(texts=("hi",))
    for query in ("hopper", "Grace", "grace@navy.example", "+15550142", "tg-user-8812"):
        assert found(rep, q=query) == {ticket.pk}, query


def test_no_match_is_an_empty_page(rep: Any) -> None:
    inbox_ticket(texts=("hello",))
    client = Client()
    client.force_login(rep)
    response = client.get(SEARCH, {"q": "zebra"})
    assert page_ids(response) == []
    assert "No conversations match." in response.content.decode()


def test_an_empty_search_asks_for_words_and_lists_nothing(rep: Any) -> None:
    inbox_ticket()
    client = Client()
    client.force_login(rep)
    response = client.get(SEARCH)
    assert page_ids(response) == []
    assert 'data-testid="search-hint"' in response.content.decode()


# --- Filters ---------------------------------------------------------------------------------


@pytest.fixture
def spread(rep: Any) -> dict[str, Any]:
    """Tickets that differ in one property each, all mentioning "refund"."""
    sms = ChannelAccountFactory(channel__name="SMS")
    sms_two = ChannelAccountFactory(channel=sms.channel)
    chat = ChannelAccountFactory(channel__name="Chat")
    other = UserFactory()
    now = timezone.now()
    return {
        "sms": sms,
        "sms_two": sms_two,
        "chat": chat,
        "other": other,
        "t_sms": inbox_ticket(account=sms, owner=rep, texts=("refund",), priority="HIGH"),
        "t_sms_two": inbox_ticket(account=sms_two, texts=("refund",), status_name="Closed"),
        "t_chat": inbox_ticket(
            account=chat, owner=other, texts=("refund",), at=now - timedelta(days=40)
        ),
        "t_email": inbox_ticket(account=None, texts=("refund",), status_name="Waiting on us"),
    }


def _ids(spread: dict[str, Any], *names: str) -> set[int]:
    return {spread[f"t_{name}"].pk for name in names}


def test_the_channel_filter(rep: Any, spread: dict[str, Any]) -> None:
    assert found(rep, q="refund", channel=spread["sms"].channel_id) == _ids(
        spread, "sms", "sms_two"
    )
    assert found(rep, channel=spread["chat"].channel_id) == _ids(spread, "chat")


def test_the_channel_account_filter(rep: Any, spread: dict[str, Any]) -> None:
    assert found(rep, q="refund", account=spread["sms_two"].pk) == _ids(spread, "sms_two")


def test_the_status_filter_by_state_or_pipeline_status(rep: Any, spread: dict[str, Any]) -> None:
    assert found(rep, q="refund", status="CLOSED") == _ids(spread, "sms_two")
    assert found(rep, q="refund", status="OPEN") == _ids(spread, "sms", "chat", "email")
    waiting = PipelineStatus.objects.get(name="Waiting on us", pipeline__is_default=True)
    assert found(rep, q="refund", status=str(waiting.pk)) == _ids(spread, "email")


def test_the_owner_filter(rep: Any, spread: dict[str, Any]) -> None:
    assert found(rep, q="refund", owner="me") == _ids(spread, "sms")
    assert found(rep, q="refund", owner="none") == _ids(spread, "sms_two", "email")
    assert found(rep, q="refund", owner=str(spread["other"].pk)) == _ids(spread, "chat")


def test_the_priority_filter(rep: Any, spread: dict[str, Any]) -> None:
    assert found(rep, q="refund", priority="HIGH") == _ids(spread, "sms")
    assert found(rep, q="refund", priority="LOW") == set()


def test_the_date_range_is_the_last_activity_both_days_included(
    rep: Any, spread: dict[str, Any]
) -> None:
    old = timezone.localtime(spread["t_chat"].last_message_at).date()
    today = timezone.localdate()
    assert found(rep, q="refund", date_to=old) == _ids(spread, "chat")
    assert found(rep, q="refund", date_from=old, date_to=old) == _ids(spread, "chat")
    assert found(rep, q="refund", date_from=old + timedelta(days=1)) == _ids(
        spread, "sms", "sms_two", "email"
    )
    assert found(rep, date_from=today, date_to=today) == _ids(spread, "sms", "sms_two", "email")


def test_filters_combine_through_the_page(rep: Any, spread: dict[str, Any]) -> None:
    client = Client()
    client.force_login(rep)
    response = client.get(
        SEARCH,
        {"q": "refund", "channel": spread["sms"].channel_id, "status": "OPEN", "owner": "me"},
    )
    assert page_ids(response) == [spread["t_sms"].pk]
    html = response.content.decode()
    # The page keeps the choices, and the save form carries them.
    assert f'<option value="{spread["sms"].channel_id}" selected>' in html
    assert f'<input type="hidden" name="channel" value="{spread["sms"].channel_id}">' in html


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "yesterday"}, "from", "Enter a valid date."),
        ({"from": "2024-03-02", "to": "2024-03-01"}, "to", "before the start date"),
        ({"channel": "999999"}, "channel", "Select a valid choice"),
        ({"owner": "somebody"}, "owner", "Select a valid choice"),
        ({"q": "x" * 201}, "q", "at most 200 characters"),
    ],
)
def test_bad_filters_show_an_error_by_the_field_and_no_results(
    rep: Any, params: dict[str, str], field: str, message: str
) -> None:
    inbox_ticket(texts=("x",))
    client = Client()
    client.force_login(rep)
    response = client.get(SEARCH, {"q": "x", **params})
    assert page_ids(response) == []
    html = response.content.decode().replace("&#x27;", "'")
    after_field = html.split(f'name="{field}"', 1)[1].split('class="field', 1)[0]
    assert message in after_field


def test_a_custom_views_count_with_search_text_stops_at_the_cap(
    rep: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tickets.inbox.SEARCH_COUNT_CAP", 2)
    for _ in range(3):
        inbox_ticket(texts=("refund",))
    text = saved_view_create(owner=rep, name="Refunds", shared=False, filters={"q": "refund"})
    plain = saved_view_create(owner=rep, name="Open", shared=False, filters={"status": "OPEN"})
    client = Client()
    client.force_login(rep)
    html = client.get("/inbox/").content.decode()
    assert f'data-view-count="saved-{text.pk}">2+<' in html
    assert f'data-view-count="saved-{plain.pk}">3<' in html
    assert 'data-view-count="open">3<' in html


def test_a_saved_search_lists_and_counts_the_same_tickets(rep: Any, spread: dict[str, Any]) -> None:
    filters = {"q": "refund", "channel": spread["sms"].channel_id, "status": "OPEN"}
    saved = saved_view_create(owner=rep, name="SMS refunds", shared=False, filters=filters)
    views = inbox_view_counts(user=rep, views=inbox_views_for_user(user=rep))
    view = next(v for v in views if v.key == f"saved-{saved.pk}")
    assert view.count == 1
    client = Client()
    client.force_login(rep)
    assert page_ids(client.get("/inbox/", {"view": view.key})) == [spread["t_sms"].pk]


# --- PostgreSQL full-text search -------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_uses_the_full_text_search(rep: Any) -> None:
    assert search_uses_full_text()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE indexname LIKE %s",
            ["%search_vector_idx"],
        )
        assert cursor.fetchall() == [("tickets_ticket_search", "tickets_ticket_search_vector_idx")]


@pytest.mark.postgres
def test_postgres_understands_phrases_or_and_exclusions(rep: Any) -> None:
    phrase = inbox_ticket(texts=("the blue parcel arrived broken",))
    apart = inbox_ticket(texts=("blue box, and a parcel",))
    assert found(rep, q='"blue parcel"') == {phrase.pk}
    assert found(rep, q="blue -box") == {phrase.pk}
    assert found(rep, q="arrived or box") == {phrase.pk, apart.pk}


@pytest.mark.postgres
def test_postgres_vectors_follow_every_change_made_through_the_orm(rep: Any) -> None:
    ticket = inbox_ticket(name="Old title", texts=("first words", "second words"))
    first, second = Message.objects.filter(ticket=ticket).order_by("id")
    assert found(rep, q="first second") == {ticket.pk}

    first.text = "rewritten words"
    first.save()
    assert found(rep, q="rewritten") == {ticket.pk}
    assert found(rep, q="first") == set()
    Message.objects.filter(pk=first.pk).update(status="READ")  # other columns: kept
    assert found(rep, q="rewritten") == {ticket.pk}
    second.delete()
    assert found(rep, q="second") == set()
    Message.objects.bulk_create(
        [
            Message(
                thread=first.thread,
                ticket=ticket,
                direction="INCOMING",
                text=text,
                status="RECEIVED",
                client_type="INTEGRATION",
                timestamp=timezone.now(),
            )
            for text in ("bulk one", "bulk two")
        ]
    )
    assert found(rep, q="one two rewritten") == {ticket.pk}

    ticket.name = "Fresh title"
    ticket.save()
    assert found(rep, q="fresh") == {ticket.pk}
    assert found(rep, q="old") == set()
    assert found(rep, q="fresh bulk") == {ticket.pk}  # renaming keeps the messages' words

    contact = ticket.contact
    contact.name = "Renamed Person"
    contact.save()
    assert found(rep, q="renamed") == {ticket.pk}
    identifier = ContactIdentifier.objects.create(
        contact=contact, kind=ContactIdentifier.Kind.EMAIL, value="renamed@example.com"
    )
    assert found(rep, q="renamed@example.com") == {ticket.pk}
    identifier.delete()
    assert found(rep, q="renamed@example.com") == set()

    other = ContactFactory(name="Another Customer")
    Ticket.objects.filter(pk=ticket.pk).update(contact=other)
    assert found(rep, q="another") == {ticket.pk}
    assert found(rep, q="renamed") == set()


@pytest.mark.postgres
def test_postgres_search_plans_use_the_gin_index(rep: Any) -> None:
    inbox_ticket(texts=("hello",))
    queryset = tickets_with_activity().filter(inbox_filters_q(InboxFilters(q="hello"), user=rep))
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        # Tiny tables: without these the planner may scan rather than use an index. GIN only
        # serves bitmap scans, so plain index scans (say, the primary key read backwards
        # with a filter) are ruled out too.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "tickets_ticket_search_vector_idx" in plan, plan


def test_search_dates_are_the_sites_days(rep: Any, settings: Any) -> None:
    """A ticket active late on the 1st (site time) is found on the 1st, not the 2nd."""
    settings.TIME_ZONE = "America/New_York"
    late = timezone.make_aware(datetime(2024, 3, 1, 23, 30))
    ticket = inbox_ticket(texts=("late",), at=late)
    day = late.date()
    assert found(rep, date_from=day, date_to=day) == {ticket.pk}
    assert found(rep, date_from=day + timedelta(days=1)) == set()
