# The reps' inbox (SPEC I1, I2): saved views, the list indexes, and full-text search.
#
# Full-text search on PostgreSQL: ``tickets_ticket_search``, one row per ticket with the
# ``search_vector`` of its whole document (its name, its contact's name, email, phone and
# identifiers, and the text of all its messages), GIN-indexed and queried by
# ``tickets.inbox_filters`` with ``websearch_to_tsquery('simple', …)``. Not a model: the ORM
# never reads or writes it. One vector per ticket because search finds conversations: a search
# or a custom view's count is one index lookup among the tickets, not a read of every matching
# message. A table of its own, not a column of ``tickets_ticket``: vectors are large (a couple
# of KB per ticket) and the inbox's lists and counts scan tickets.
#
# Triggers keep it, so the services need no change: a new ticket gets its row (name and
# contact); a message insert appends its words to its ticket's vector (a statement trigger: a
# bulk insert updates each ticket once); renaming a ticket or moving it to another contact,
# editing or deleting messages, and changing a contact or its identifiers recompute the
# vectors concerned (rare events). Lock order, as the services: the ticket row, then its
# search row. Deleting (or truncating) tickets deletes their rows. On SQLite nothing is
# created: search falls back to ``icontains``.
#
# Depends on the other inbox parts' migrations (0004 LIVE, 0005 CONVERSATION, which chain
# from 0002) rather than on 0002 only: two leaf migrations in one app make ``migrate`` refuse
# to run, and with it every test. The number is the one the plan gave it.

import django.db.models.deletion
import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models

SIMPLE = "'simple'::regconfig"


def header_vector(ticket: str) -> str:
    """SQL: the vector of a ticket's name and its contact's name, email, phone, identifiers."""
    return f"""
        to_tsvector({SIMPLE}, coalesce({ticket}.name, '') || ' ' || coalesce((
            SELECT concat_ws(' ', c.name, c.email, c.phone, (
                SELECT string_agg(i.value, ' ') FROM tickets_contactidentifier i
                WHERE i.contact_id = c.id
            ))
            FROM tickets_contact c WHERE c.id = {ticket}.contact_id
        ), ''))
    """


# The whole document of the ticket ``t``: the header, then the messages in storage order.
TICKET_DOCUMENT = f"""
    {header_vector("t")}
    || coalesce(
        (SELECT to_tsvector({SIMPLE}, string_agg(coalesce(m.text, ''), ' ' ORDER BY m.id))
         FROM tickets_message m WHERE m.ticket_id = t.id),
        ''::tsvector
    )
"""

FORWARD = [
    """
    CREATE TABLE tickets_ticket_search (
        ticket_id bigint PRIMARY KEY,
        search_vector tsvector NOT NULL DEFAULT ''::tsvector
    )
    """,
    f"""
    CREATE FUNCTION tickets_search_recompute(ticket_ids bigint[]) RETURNS void
    LANGUAGE sql AS $$
        UPDATE tickets_ticket_search s SET search_vector = {TICKET_DOCUMENT}
        FROM tickets_ticket t
        WHERE t.id = s.ticket_id AND s.ticket_id = ANY(ticket_ids)
    $$
    """,
    # New tickets: their header (they have no message yet).
    f"""
    CREATE FUNCTION tickets_ticket_search_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO tickets_ticket_search (ticket_id, search_vector)
        SELECT t.id, {header_vector("t")} FROM new_tickets t
        ON CONFLICT (ticket_id) DO UPDATE SET search_vector = EXCLUDED.search_vector;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_ticket_search_insert AFTER INSERT ON tickets_ticket
    REFERENCING NEW TABLE AS new_tickets
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_ticket_search_insert()
    """,
    # Deleted tickets, and tables emptied (tests' flush): their rows go too. Triggers, not a
    # foreign key: Django's flush truncates only its models' tables, and a key to
    # tickets_ticket would refuse that.
    """
    CREATE FUNCTION tickets_ticket_search_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM tickets_ticket_search WHERE ticket_id IN (SELECT id FROM old_tickets);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_ticket_search_delete AFTER DELETE ON tickets_ticket
    REFERENCING OLD TABLE AS old_tickets
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_ticket_search_delete()
    """,
    """
    CREATE FUNCTION tickets_ticket_search_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE tickets_ticket_search;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_ticket_search_truncate AFTER TRUNCATE ON tickets_ticket
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_ticket_search_truncate()
    """,
    # A renamed ticket, or one moved to another contact.
    """
    CREATE FUNCTION tickets_ticket_search_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM tickets_search_recompute(ARRAY[NEW.id]);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_ticket_search_change
    AFTER UPDATE OF name, contact_id ON tickets_ticket FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.contact_id IS DISTINCT FROM NEW.contact_id)
    EXECUTE FUNCTION tickets_ticket_search_change()
    """,
    # New messages: their words appended to their tickets' vectors, once per ticket.
    f"""
    CREATE FUNCTION tickets_message_search_append() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- The ticket row first, as every service locks it (no deadlock with a rename).
        PERFORM 1 FROM tickets_ticket
        WHERE id IN (SELECT ticket_id FROM new_messages) FOR NO KEY UPDATE;
        UPDATE tickets_ticket_search s SET search_vector = s.search_vector || added.words
        FROM (
            SELECT ticket_id,
                   to_tsvector({SIMPLE}, string_agg(coalesce(text, ''), ' ' ORDER BY id))
                       AS words
            FROM new_messages GROUP BY ticket_id
        ) AS added
        WHERE s.ticket_id = added.ticket_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_message_search_append AFTER INSERT ON tickets_message
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_message_search_append()
    """,
    # Edited or deleted messages.
    """
    CREATE FUNCTION tickets_message_search_edit() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM tickets_search_recompute(ARRAY[OLD.ticket_id, NEW.ticket_id]);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_message_search_edit
    AFTER UPDATE OF text, ticket_id ON tickets_message FOR EACH ROW
    WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.ticket_id IS DISTINCT FROM NEW.ticket_id)
    EXECUTE FUNCTION tickets_message_search_edit()
    """,
    """
    CREATE FUNCTION tickets_message_search_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM tickets_search_recompute(ARRAY(SELECT DISTINCT ticket_id FROM old_messages));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_message_search_delete AFTER DELETE ON tickets_message
    REFERENCING OLD TABLE AS old_messages
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_message_search_delete()
    """,
    # A contact's name, email or phone changed: its tickets.
    """
    CREATE FUNCTION tickets_contact_search_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM tickets_search_recompute(
            ARRAY(SELECT id FROM tickets_ticket WHERE contact_id = NEW.id)
        );
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_contact_search_change
    AFTER UPDATE OF name, email, phone ON tickets_contact FOR EACH ROW
    WHEN (
        OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email
        OR OLD.phone IS DISTINCT FROM NEW.phone
    )
    EXECUTE FUNCTION tickets_contact_search_change()
    """,
    # A contact identifier added, changed or removed: the tickets of its contact(s).
    """
    CREATE FUNCTION tickets_contactidentifier_search_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM tickets_search_recompute(ARRAY(
            SELECT id FROM tickets_ticket
            WHERE contact_id IN (
                CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.contact_id END,
                CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.contact_id END
            )
        ));
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tickets_contactidentifier_search_change
    AFTER INSERT OR DELETE OR UPDATE OF value, contact_id ON tickets_contactidentifier
    FOR EACH ROW EXECUTE FUNCTION tickets_contactidentifier_search_change()
    """,
    f"""
    INSERT INTO tickets_ticket_search (ticket_id, search_vector)
    SELECT t.id, {TICKET_DOCUMENT} FROM tickets_ticket t
    """,
    "CREATE INDEX tickets_ticket_search_vector_idx ON tickets_ticket_search"
    " USING gin (search_vector)",
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS tickets_contactidentifier_search_change ON tickets_contactidentifier",
    "DROP TRIGGER IF EXISTS tickets_contact_search_change ON tickets_contact",
    "DROP TRIGGER IF EXISTS tickets_message_search_append ON tickets_message",
    "DROP TRIGGER IF EXISTS tickets_message_search_edit ON tickets_message",
    "DROP TRIGGER IF EXISTS tickets_message_search_delete ON tickets_message",
    "DROP TRIGGER IF EXISTS tickets_ticket_search_insert ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_ticket_search_change ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_ticket_search_delete ON tickets_ticket",
    "DROP TRIGGER IF EXISTS tickets_ticket_search_truncate ON tickets_ticket",
    "DROP FUNCTION IF EXISTS tickets_contactidentifier_search_change()",
    "DROP FUNCTION IF EXISTS tickets_contact_search_change()",
    "DROP FUNCTION IF EXISTS tickets_message_search_append()",
    "DROP FUNCTION IF EXISTS tickets_message_search_edit()",
    "DROP FUNCTION IF EXISTS tickets_message_search_delete()",
    "DROP FUNCTION IF EXISTS tickets_ticket_search_insert()",
    "DROP FUNCTION IF EXISTS tickets_ticket_search_change()",
    "DROP FUNCTION IF EXISTS tickets_ticket_search_delete()",
    "DROP FUNCTION IF EXISTS tickets_ticket_search_truncate()",
    "DROP FUNCTION IF EXISTS tickets_search_recompute(bigint[])",
    "DROP TABLE IF EXISTS tickets_ticket_search",
]


def search_vectors_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def search_vectors_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


def activity():
    return django.db.models.functions.comparison.Coalesce(
        models.F("last_message_at"), models.F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0005_message_details_ticket_change"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SavedView",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=80)),
                ("shared", models.BooleanField(default=False)),
                ("filters", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="saved_views",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name", "id"],
                "indexes": [
                    models.Index(fields=["shared", "name"], name="tickets_sav_shared_8a1730_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("owner", "name"), name="saved_view_unique_name")
                ],
            },
        ),
        # (state, owner, last_message_at) is superseded by the owner index below, which also
        # serves routing's open-tickets-per-owner counts.
        migrations.RemoveIndex(model_name="ticket", name="tickets_tic_state_bdf400_idx"),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                models.F("state"),
                models.F("owner"),
                models.OrderBy(activity(), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="ticket_inbox_owner_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                models.F("state"),
                models.OrderBy(activity(), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="ticket_inbox_state_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                models.OrderBy(activity(), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="ticket_inbox_activity_idx",
            ),
        ),
        migrations.RunPython(search_vectors_create, search_vectors_drop, elidable=False),
    ]
