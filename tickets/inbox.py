"""The reps' inbox reads (SPEC I1, I2): the views with their counts, a page of a view's
conversations, and search results.

Every read here is a fixed number of queries whatever the number of tickets or views:
``inbox_views_for_user`` one (the custom views), ``inbox_view_counts`` one (every count, each a
subquery), ``ticket_list_for_view`` / ``ticket_search`` one (the page's tickets with their
contact, owner, status, channel and last message). Lists are newest activity first
(``ticket_activity``: the last message, else the creation) and paginated by an opaque cursor of
(activity, id), which the ticket indexes of migration 0003 serve.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr

from tickets.inbox_filters import (
    OWNER_ME,
    OWNER_NONE,
    InboxFilters,
    inbox_filters_q,
    message_text_q,
)
from tickets.models import Message, SavedView, Ticket, TicketState, ticket_activity

PAGE_SIZE = 25
SEARCH_COUNT_CAP = 1000
SNIPPET_LENGTH = 160
SAVED_VIEW_PREFIX = "saved-"
DEFAULT_VIEW_KEY = "open"

# The default views (SPEC I1) are filters too: the same code counts and lists them.
DEFAULT_VIEWS: tuple[tuple[str, str, InboxFilters], ...] = (
    ("unassigned", "Unassigned", InboxFilters(status=TicketState.OPEN, owner=OWNER_NONE)),
    ("mine", "Assigned to me", InboxFilters(status=TicketState.OPEN, owner=OWNER_ME)),
    ("open", "All open", InboxFilters(status=TicketState.OPEN)),
    ("closed", "Closed", InboxFilters(status=TicketState.CLOSED)),
)

# What a row shows; everything else of the ticket and its relations stays in the database
# (a channel account's credentials are encrypted: no reason to decrypt 25 of them).
ROW_FIELDS = (
    "name",
    "state",
    "priority",
    "last_message_at",
    "created_at",
    "contact__name",
    "contact__email",
    "contact__phone",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
    "status__name",
    "status__state",
    "channel_account__name",
    "channel_account__channel__name",
)


@dataclass(frozen=True)
class InboxView:
    """One entry of the inbox's left column: a default view or a custom (saved) one."""

    key: str
    name: str
    filters: InboxFilters
    saved_view: SavedView | None = None
    count: int | None = None
    # The count stopped at ``SEARCH_COUNT_CAP``: there are more.
    count_capped: bool = False

    @property
    def is_custom(self) -> bool:
        return self.saved_view is not None


@dataclass(frozen=True)
class TicketPage:
    """One page of a list: its tickets (with ``activity``, ``snippet`` and, for a text search,
    ``match``), and the cursor of the next page (None on the last)."""

    tickets: list[Ticket]
    next_cursor: str | None


def saved_view_list_for_user(*, user: Any) -> QuerySet[SavedView]:
    """The custom views ``user`` sees: their own and everybody's shared ones, by name."""
    return (
        SavedView.objects.filter(Q(owner_id=user.pk) | Q(shared=True))
        .select_related("owner")
        .order_by("name", "id")
    )


def saved_view_key(saved_view: SavedView) -> str:
    return f"{SAVED_VIEW_PREFIX}{saved_view.pk}"


def inbox_views_for_user(*, user: Any) -> list[InboxView]:
    """The default views, then the user's custom views (one query), without counts."""
    defaults = [InboxView(key, name, filters) for key, name, filters in DEFAULT_VIEWS]
    custom = [
        InboxView(
            saved_view_key(saved),
            saved.name,
            InboxFilters.from_saved(saved.filters),
            saved_view=saved,
        )
        for saved in saved_view_list_for_user(user=user)
    ]
    return defaults + custom


def inbox_view_counts(*, user: Any, views: list[InboxView] | None = None) -> list[InboxView]:
    """``views`` (default: ``inbox_views_for_user``) with their ticket counts, in one query.

    Each count is a scalar subquery of its own, so each uses its best index (the default
    views' counts read only the inbox indexes). A view with search text counts up to
    ``SEARCH_COUNT_CAP`` (shown "1000+"): a common word matches a large part of the tickets,
    and knowing how many exactly is not worth reading them all on every page.
    """
    views = inbox_views_for_user(user=user) if views is None else views
    selects: list[str] = []
    params: list[Any] = []
    for view in views:
        matching = (
            tickets_with_activity()
            .filter(inbox_filters_q(view.filters, user=user))
            .order_by()
            .values("pk")
        )
        if view.filters.q.strip():
            matching = matching[: SEARCH_COUNT_CAP + 1]
        sql, view_params = matching.query.sql_with_params()
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS matching)")  # noqa: S608
        params.extend(view_params)
    with connection.cursor() as cursor:
        # SQL composed from the ORM's own queries, their values bound as parameters.
        cursor.execute(f"SELECT {', '.join(selects)}", params)
        counts = cursor.fetchone()
    return [
        replace(view, count=SEARCH_COUNT_CAP, count_capped=True)
        if view.filters.q.strip() and count > SEARCH_COUNT_CAP
        else replace(view, count=count)
        for view, count in zip(views, counts, strict=True)
    ]


def inbox_view_find(views: list[InboxView], key: str) -> InboxView | None:
    """The view named ``key`` among those the user sees (None: unknown, or another rep's
    private view)."""
    return next((view for view in views if view.key == key), None)


def tickets_with_activity() -> QuerySet[Ticket]:
    """Tickets with ``activity`` aliased, as ``inbox_filters_q`` expects."""
    return Ticket.objects.alias(activity=ticket_activity())


def ticket_list_for_view(*, user: Any, view: InboxView, after: str | None = None) -> TicketPage:
    """A page of ``view``'s conversations, newest activity first, after the cursor ``after``."""
    queryset = tickets_with_activity().filter(inbox_filters_q(view.filters, user=user))
    return _page(queryset, after=after)


def ticket_search(*, user: Any, filters: InboxFilters, after: str | None = None) -> TicketPage:
    """A page of the conversations matching ``filters`` (SPEC I2); with search text, each
    ticket carries ``match``: the start of its newest message matching the text, if any."""
    queryset = tickets_with_activity().filter(inbox_filters_q(filters, user=user))
    if filters.q.strip():
        matching = (
            Message.objects.filter(message_text_q(filters.q), ticket_id=OuterRef("pk"))
            .order_by("-timestamp", "-id")
            .values_list(Substr("text", 1, SNIPPET_LENGTH))[:1]
        )
        queryset = queryset.annotate(match=Subquery(matching))
    return _page(queryset, after=after)


def _page(queryset: QuerySet[Ticket], *, after: str | None) -> TicketPage:
    last_message = (
        Message.objects.filter(ticket_id=OuterRef("pk"))
        .order_by("-timestamp", "-id")
        .values_list(Substr("text", 1, SNIPPET_LENGTH))[:1]
    )
    queryset = (
        queryset.select_related("contact", "owner", "status", "channel_account__channel")
        .only(*ROW_FIELDS)
        .annotate(activity=ticket_activity(), snippet=Subquery(last_message))
        .order_by("-activity", "-pk")
    )
    cursor = cursor_decode(after)
    if cursor is not None:
        activity, pk = cursor
        # The redundant ``activity <= …`` lets PostgreSQL start the index scan at the cursor.
        queryset = queryset.filter(
            Q(activity__lt=activity) | Q(activity=activity, pk__lt=pk), activity__lte=activity
        )
    tickets: list[Ticket] = list(queryset[: PAGE_SIZE + 1])
    next_cursor = None
    if len(tickets) > PAGE_SIZE:
        tickets = tickets[:PAGE_SIZE]
        last = tickets[-1]
        next_cursor = cursor_encode(last.activity, last.pk)  # type: ignore[attr-defined]
    return TicketPage(tickets=tickets, next_cursor=next_cursor)


def cursor_encode(activity: datetime, pk: int) -> str:
    """An opaque token for "after this ticket" in the inbox order."""
    raw = json.dumps([activity.isoformat(), pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(token: str | None) -> tuple[datetime, int] | None:
    """The (activity, id) of a token; None for no token or a malformed one (the first page)."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        activity, pk = json.loads(raw)
        moment = datetime.fromisoformat(activity)
    except (binascii.Error, ValueError, TypeError):
        return None
    if moment.tzinfo is None or not isinstance(pk, int):
        return None
    return moment, pk
