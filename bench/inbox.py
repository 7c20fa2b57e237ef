"""Inbox benchmark (SPEC I1, I2): the workspace's pages against 100,000 tickets and 1,000,000
messages on PostgreSQL.

Seeds its own database (``helpdesk_bench_inbox``: created and migrated here, reused by later
runs; ``--reseed`` starts it afresh) in SQL (``INSERT … SELECT generate_series``, the indexes
built after the load), then times, through the real Django stack (the test client: URL
routing, middleware, session, views, templates, SQL), opening each default view, the next page
of a view, a conversation, and searches. Prints median and p95 per measurement against the
targets (views and conversation < 150 ms, search < 300 ms, median).

    .venv/bin/python bench/inbox.py [--reseed] [--tickets 100000] [--messages-per-ticket 10]
                                    [--runs 30]

BENCH_INBOX_DATABASE_URL picks the database (default: the local server).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_inbox"
REPS = 20
TARGET_VIEW_MS = 150.0
TARGET_SEARCH_MS = 300.0

FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Ken",
    "Dennis",
    "Margaret",
    "Frances",
    "John",
    "Radia",
    "Leslie",
    "Tim",
    "Linus",
    "Guido",
    "Bjarne",
    "Niklaus",
    "Tony",
    "Robin",
    "Shafi",
    "Silvio",
    "Judea",
    "Yann",
    "Geoffrey",
    "Fei",
    "Andrew",
    "Hedy",
    "Katherine",
    "Dorothy",
    "Mary",
    "Annie",
    "Jean",
    "Betty",
    "Kathleen",
    "Ruth",
    "Marlyn",
    "Adele",
    "Sophie",
    "Karen",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Thompson",
    "Ritchie",
    "Hamilton",
    "Allen",
    "Backus",
    "Perlman",
    "Lamport",
    "Berners",
    "Torvalds",
    "Rossum",
    "Stroustrup",
    "Wirth",
    "Hoare",
    "Milner",
    "Goldwasser",
    "Micali",
    "Pearl",
    "LeCun",
    "Hinton",
    "Li",
    "Yao",
    "Lamarr",
    "Johnson",
    "Vaughan",
    "Jackson",
    "Easley",
    "Sammet",
    "Jennings",
    "Holberton",
    "Antonelli",
    "Teitelbaum",
    "Wescoff",
    "Goldstine",
    "Wilson",
    "Jones",
    "Spärck",
]
# Message words: a skewed pick from this vocabulary (common words first) gives realistic
# selectivity; RARE_WORD is planted in a handful of messages.
COMMON_WORDS = [
    "the",
    "order",
    "is",
    "my",
    "for",
    "and",
    "to",
    "a",
    "please",
    "of",
    "it",
    "not",
    "when",
    "refund",
    "delivery",
    "parcel",
    "account",
    "payment",
    "card",
    "help",
    "thanks",
    "hello",
    "can",
    "you",
    "still",
    "waiting",
    "arrived",
    "where",
    "since",
    "week",
    "yesterday",
    "today",
    "invoice",
    "price",
    "charge",
    "wrong",
    "address",
    "tracking",
    "number",
    "package",
    "broken",
    "replace",
    "return",
    "size",
    "color",
    "upgrade",
    "plan",
    "cancel",
    "subscription",
    "login",
    "password",
    "reset",
    "email",
    "phone",
    "app",
    "error",
]
RARE_WORD = "zanzibar"


def syllable_words(count: int) -> list[str]:
    """Deterministic pronounceable filler words (``lomepa``…), for a large vocabulary."""
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    words = []
    for index in range(count):
        word, n = "", index + 7
        for _ in range(3):
            word += consonants[n % len(consonants)] + vowels[(n // 14) % len(vowels)]
            n //= 70
            n += index % 13
        words.append(word)
    return list(dict.fromkeys(words))


def configure(database_url: str) -> None:
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY="bench-secret-key-not-for-production",
        FIELD_ENCRYPTION_KEYS="q2gJ3m2m5rX8R0d1Wj7yZ4n6bV9cA3eF5hK8pL1sT0U=",
        LOG_LEVEL="WARNING",
    )


def database_create(database_url: str, *, drop: bool) -> bool:
    """Creates the database when missing (dropping it first with ``drop``); True if created."""
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if drop:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
        return not exists


@contextmanager
def step(label: str) -> Iterator[None]:
    started = time.perf_counter()
    print(f"  {label}…", end="", flush=True)
    yield
    print(f" {time.perf_counter() - started:.1f} s", flush=True)


def insert_select(model: Any, values: dict[str, str], source: str) -> str:
    """``INSERT INTO <model> (…) SELECT …`` with ``values`` (column → SQL expression over
    ``source``); the other NOT NULL columns get their Django default, so a field added later
    does not break the seeding."""
    from django.db import connection
    from django.db.models import AutoField, BigAutoField

    columns, expressions = [], []
    for field in model._meta.concrete_fields:
        if isinstance(field, (AutoField, BigAutoField)):
            continue
        if field.column in values:
            expression = values[field.column]
        elif field.null:
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            expression = "now()"
        elif field.has_default():
            expression = _literal(field.get_db_prep_save(field.get_default(), connection))
        else:
            raise RuntimeError(f"{model.__name__}.{field.name}: the seed gives it no value")
        columns.append(field.column)
        expressions.append(expression)
    return (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "  # noqa: S608  (own SQL)
        f"SELECT {', '.join(expressions)} FROM {source}"
    )


def _literal(value: Any) -> str:
    """A constant as SQL (defaults are simple: numbers, booleans, strings, JSON)."""
    import json

    from psycopg.types.json import Json, Jsonb

    if isinstance(value, (Json, Jsonb)):
        value = json.dumps(value.obj)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@contextmanager
def indexes_rebuilt_after(*tables: str) -> Iterator[None]:
    """Drops the tables' secondary indexes for a bulk load and builds them again after it (a
    GIN or B-tree index built once is many times faster than one maintained row by row)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT indexname, indexdef FROM pg_indexes
            WHERE tablename = ANY(%s)
              AND indexname NOT IN (SELECT conname FROM pg_constraint)
            """,
            [list(tables)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)


def seed(tickets: int, per_ticket: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from channels_app.accounts import channel_account_connect
    from channels_app.services import app_create, channel_create
    from tickets.models import (
        Contact,
        ContactIdentifier,
        Message,
        Pipeline,
        SavedView,
        Thread,
        Ticket,
    )

    print(f"Seeding {tickets:,} tickets with {tickets * per_ticket:,} messages…")
    user_model = get_user_model()
    with step("reps, apps, channels and accounts"):
        user_model.objects.bulk_create(
            user_model(
                username=f"rep{n}",
                first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
                last_name="Rep",
                password=make_password(None),
            )
            for n in range(1, REPS + 1)
        )
        accounts = []
        for name in ("Acme SMS", "Acme Chat", "Acme WhatsApp"):
            created = app_create(name=f"{name} app")
            channel = channel_create(
                app=created.app,
                name=name,
                capabilities={
                    "deliveryIdentifierTypes": ["HS_PHONE_NUMBER"],
                    "threadingModel": "INTEGRATION_THREAD_ID",
                    "allowOutgoingMessages": True,
                },
            )
            for line in range(2):
                accounts.append(
                    channel_account_connect(channel=channel, name=f"{name} line {line + 1}")
                )

    rep_ids = list(
        user_model.objects.filter(username__startswith="rep").values_list("pk", flat=True)
    )
    pipeline = Pipeline.objects.get(is_default=True)
    statuses = list(pipeline.statuses.order_by("display_order").values_list("pk", "state"))
    open_ids = [pk for pk, state in statuses if state == "OPEN"]
    closed_ids = [pk for pk, state in statuses if state == "CLOSED"]
    account_ids = [account.pk for account in accounts]
    contacts = max(1, tickets // 2)
    vocabulary = COMMON_WORDS + syllable_words(3000)
    params = {
        "n_tickets": tickets,
        "n_contacts": contacts,
        "first": FIRST_NAMES,
        "last": LAST_NAMES,
        "reps": rep_ids,
        "open_ids": open_ids,
        "closed_id": closed_ids[0],
        "accounts": account_ids,
        "pipeline": pipeline.pk,
        "vocab": vocabulary,
        "n_vocab": len(vocabulary),
        "per_ticket": per_ticket,
        "rare": RARE_WORD,
    }

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        # Foreign keys checked at the end of each statement, not at commit: an index cannot be
        # built on a table with pending checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with step(f"{contacts:,} contacts and their phone identifiers"):
            cursor.execute(
                insert_select(
                    Contact,
                    {
                        "name": "(%(first)s::text[])[1 + i %% array_length((%(first)s::text[]), 1)] || ' ' || "
                        "(%(last)s::text[])[1 + (i / array_length((%(first)s::text[]), 1)) %% "
                        "array_length((%(last)s::text[]), 1)]",
                        "email": "'customer' || i || '@example.com'",
                        "phone": "'+1555' || lpad(i::text, 7, '0')",
                        "created_at": "now()",
                        "updated_at": "now()",
                    },
                    "generate_series(1, %(n_contacts)s) AS i",
                ),
                params,
            )
            cursor.execute(
                insert_select(
                    ContactIdentifier,
                    {
                        "contact_id": "c.id",
                        "kind": "'HS_PHONE_NUMBER'",
                        "value": "c.phone",
                        "created_at": "now()",
                    },
                    "tickets_contact c",
                ),
                params,
            )
        with (
            step(f"{tickets:,} tickets and threads"),
            indexes_rebuilt_after("tickets_ticket", "tickets_ticket_search"),
        ):
            # Ticket i: contact (i mod contacts), a quarter closed, 30 % of the open ones
            # unassigned, activity spread over a year.
            source = """
                (SELECT i,
                        c.id AS contact_id, c.name AS contact_name,
                        (random() < 0.25) AS closed,
                        random() AS r_owner, random() AS r_status, random() AS r_priority,
                        now() - random() * interval '365 days' AS last_at,
                        (%(accounts)s::bigint[])[1 + floor(random() * array_length((%(accounts)s::bigint[]), 1))::int]
                            AS account_id
                 FROM generate_series(1, %(n_tickets)s) AS i
                 JOIN tickets_contact c
                   ON c.id = (SELECT min(id) FROM tickets_contact) + (i - 1) %% %(n_contacts)s
                ) AS s
            """
            rep_pick = "(%(reps)s::bigint[])[1 + floor(s.r_owner * 1000)::int %% array_length((%(reps)s::bigint[]), 1)]"
            cursor.execute(
                insert_select(
                    Ticket,
                    {
                        "name": "s.contact_name || ' via Acme (' || s.i || ')'",
                        "pipeline_id": "%(pipeline)s",
                        "status_id": "CASE WHEN s.closed THEN %(closed_id)s ELSE "
                        "(%(open_ids)s::bigint[])[1 + floor(s.r_status * array_length((%(open_ids)s::bigint[]), 1))::int]"
                        " END",
                        "state": "CASE WHEN s.closed THEN 'CLOSED' ELSE 'OPEN' END",
                        "priority": "(ARRAY['', '', 'LOW', 'MEDIUM', 'HIGH', 'URGENT'])"
                        "[1 + floor(s.r_priority * 6)::int]",
                        "category": "''",
                        "owner_id": f"CASE WHEN NOT s.closed AND s.r_owner < 0.3 THEN NULL "
                        f"ELSE {rep_pick} END",
                        "contact_id": "s.contact_id",
                        "channel_account_id": "s.account_id",
                        "created_at": "s.last_at - interval '3 hours'",
                        "updated_at": "s.last_at",
                        "closed_at": "CASE WHEN s.closed THEN s.last_at END",
                        "last_message_at": "s.last_at",
                    },
                    source,
                ),
                params,
            )
            cursor.execute(
                insert_select(
                    Thread,
                    {
                        "ticket_id": "t.id",
                        "channel_account_id": "t.channel_account_id",
                        "contact_id": "t.contact_id",
                        "is_open": "t.state = 'OPEN'",
                        "created_at": "t.created_at",
                    },
                    "tickets_ticket t",
                ),
                params,
            )
        with (
            step(f"{tickets * per_ticket:,} messages (the tickets' search vectors, the indexes)"),
            indexes_rebuilt_after("tickets_message", "tickets_ticket_search"),
        ):
            # Skewed word picks (power 3): the first words are in most messages, the last in
            # a few hundred; 6 to 17 words a message.
            text = (
                "(SELECT string_agg((%(vocab)s::text[])[1 + floor(power(random(), 3) * %(n_vocab)s)::int],"
                " ' ') FROM generate_series(1, 6 + (t.id + k) %% 12) AS w WHERE k >= 0)"
            )
            cursor.execute(
                insert_select(
                    Message,
                    {
                        "thread_id": "th.id",
                        "ticket_id": "t.id",
                        "channel_id": "a.channel_id",
                        "channel_account_id": "t.channel_account_id",
                        "medium": "'CUSTOM_CHANNEL'",
                        "direction": "CASE WHEN k %% 2 = 0 THEN 'INCOMING' ELSE 'OUTGOING' END",
                        "text": text,
                        "rich_text": "''",
                        "senders": "'[]'::jsonb",
                        "recipients": "'[]'::jsonb",
                        "status": "CASE WHEN k %% 2 = 0 THEN 'RECEIVED' ELSE 'SENT' END",
                        "failure_reason": "''",
                        "client_type": "CASE WHEN k %% 2 = 0 THEN 'INTEGRATION' ELSE 'HUBSPOT' END",
                        "sender_contact_id": "CASE WHEN k %% 2 = 0 THEN t.contact_id END",
                        "sender_user_id": "CASE WHEN k %% 2 = 1 THEN t.owner_id END",
                        "timestamp": "t.last_message_at - (%(per_ticket)s - 1 - k) "
                        "* interval '7 minutes'",
                        "created_at": "t.last_message_at",
                        "updated_at": "t.last_message_at",
                    },
                    "tickets_ticket t JOIN tickets_thread th ON th.ticket_id = t.id "
                    "JOIN channels_app_channelaccount a ON a.id = t.channel_account_id "
                    "CROSS JOIN generate_series(0, %(per_ticket)s - 1) AS k",
                ),
                params,
            )
            cursor.execute(
                "UPDATE tickets_message SET text = text || ' ' || %(rare)s WHERE id IN ("
                "SELECT max(id) FROM tickets_message GROUP BY ticket_id ORDER BY 1 DESC LIMIT 7)",
                params,
            )
        with step("custom views"):
            rep = user_model.objects.get(username="rep1")
            SavedView.objects.create(
                owner=rep, name="Urgent, open", filters={"status": "OPEN", "priority": "URGENT"}
            )
            SavedView.objects.create(
                owner=rep, name="Refunds", shared=True, filters={"q": "refund", "status": "OPEN"}
            )
    with step("VACUUM ANALYZE"), connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def seeded(tickets: int, per_ticket: int) -> bool:
    from tickets.models import Message, Ticket

    return Ticket.objects.count() == tickets and Message.objects.count() == tickets * per_ticket


def timed(runs: int, action: Callable[[int], Any]) -> list[float]:
    for warmup in range(3):
        action(warmup)
    samples = []
    for run in range(runs):
        started = time.perf_counter()
        action(run)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(label: str, samples: list[float], target: float) -> bool:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    ok = median < target
    print(
        f"  {label:<44} median {median:7.1f} ms   p95 {p95:7.1f} ms   "
        f"(target {target:.0f} ms: {'ok' if ok else 'MISSED'})"
    )
    return ok


def measure(runs: int) -> bool:
    import random
    import re

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from tickets.models import Message, Ticket

    rep = get_user_model().objects.get(username="rep1")
    client = Client()
    client.force_login(rep)

    def get(url: str, params: dict[str, Any] | None = None) -> str:
        response = client.get(url, params or {})
        assert response.status_code == 200, (url, response.status_code)
        return response.content.decode()

    print(
        f"Database: {Ticket.objects.count():,} tickets, {Message.objects.count():,} messages; "
        f"{runs} timed runs each, through the Django test client as {rep.get_username()}."
    )
    all_ok = True
    print("Views (first page, with the left column's counts):")
    for key in ("unassigned", "mine", "open", "closed"):
        all_ok &= report(
            f"/inbox/?view={key}",
            timed(runs, lambda _, k=key: get("/inbox/", {"view": k})),
            TARGET_VIEW_MS,
        )
    first = get("/inbox/", {"view": "open"})
    found = re.search(r'href="/inbox/\?view=open&amp;after=([^"]+)" rel="next"', first)
    assert found, "no next page"
    cursor = found.group(1)
    all_ok &= report(
        "/inbox/?view=open&after=… (page 2)",
        timed(runs, lambda _: get("/inbox/", {"view": "open", "after": cursor})),
        TARGET_VIEW_MS,
    )
    deep = cursor
    for _ in range(40):  # the 41st page
        html = get("/inbox/", {"view": "open", "after": deep})
        deep = re.search(r"after=([^\"&]+)\" rel=\"next\"", html).group(1)  # type: ignore[union-attr]
    all_ok &= report(
        "/inbox/?view=open&after=… (page 41)",
        timed(runs, lambda _: get("/inbox/", {"view": "open", "after": deep})),
        TARGET_VIEW_MS,
    )
    for view in ("Urgent, open", "Refunds"):
        from tickets.models import SavedView

        key = f"saved-{SavedView.objects.get(name=view).pk}"
        all_ok &= report(
            f"custom view “{view}”",
            timed(runs, lambda _, k=key: get("/inbox/", {"view": k})),
            TARGET_VIEW_MS,
        )

    print("Conversation:")
    ticket_ids = list(
        Ticket.objects.filter(state="OPEN").order_by("?").values_list("pk", flat=True)[:100]
    )
    random.Random(1).shuffle(ticket_ids)
    all_ok &= report(
        "/inbox/tickets/<id>/ (the page)",
        timed(
            runs,
            lambda run: get(reverse("inbox-ticket", args=[ticket_ids[run % len(ticket_ids)]])),
        ),
        TARGET_VIEW_MS,
    )

    print("Search:")
    with connection.cursor() as cursor:

        def matches(word: str) -> int:
            cursor.execute(
                "SELECT count(*) FROM tickets_ticket_search "
                "WHERE search_vector @@ websearch_to_tsquery('simple', %s)",
                [word],
            )
            return int(cursor.fetchone()[0])

        words = [("refund", "common word"), (syllable_words(3000)[1500], "medium word")]
        words.append((RARE_WORD, "rare word"))
        cursor.execute("SELECT min(id) FROM channels_app_customchannel")
        channel_id = cursor.fetchone()[0]
        counted = {word: matches(word) for word, _ in words}
    for word, kind in words:
        all_ok &= report(
            f"q={word} ({kind}: in {counted[word]:,} tickets)",
            timed(runs, lambda _, w=word: get("/inbox/search/", {"q": w})),
            TARGET_SEARCH_MS,
        )
    all_ok &= report(
        "q=refund + channel + open + priority",
        timed(
            runs,
            lambda _: get(
                "/inbox/search/",
                {"q": "refund", "channel": channel_id, "status": "OPEN", "priority": "HIGH"},
            ),
        ),
        TARGET_SEARCH_MS,
    )
    all_ok &= report(
        "q=contact name (“Grace Hopper”)",
        timed(runs, lambda _: get("/inbox/search/", {"q": "Grace Hopper"})),
        TARGET_SEARCH_MS,
    )
    all_ok &= report(
        "q=phone identifier",
        timed(runs, lambda _: get("/inbox/search/", {"q": "+15550004242"})),
        TARGET_SEARCH_MS,
    )
    return all_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed again")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages-per-ticket", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_INBOX_DATABASE_URL", DEFAULT_URL)
    configure(database_url)
    database_create(database_url, drop=args.reseed)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    if not seeded(args.tickets, args.messages_per_ticket):
        from django.contrib.auth import get_user_model
        from django.db import connection

        if get_user_model().objects.exists():  # a partial or different seed: start again
            connection.close()
            database_create(database_url, drop=True)
            call_command("migrate", verbosity=0)
        started = time.perf_counter()
        seed(args.tickets, args.messages_per_ticket)
        print(f"Seeded in {time.perf_counter() - started:.0f} s.")
    ok = measure(args.runs)
    print("All targets met." if ok else "Some targets missed.")


if __name__ == "__main__":
    main()
