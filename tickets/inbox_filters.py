"""What an inbox list is filtered by (SPEC I1, I2): the search form, its validation, and the
ticket conditions the filters stand for, with full-text search.

A search and a custom view are the same thing: ``InboxFilters``. The search page reads them
from the query string through ``InboxFilterForm``; a saved view stores ``to_data()`` and
``inbox_filters_clean`` checks it first. ``inbox_filters_q`` turns them into one condition on
``Ticket``, usable in a list and inside a count.

Text search looks at a conversation's whole document: the ticket name, the contact's name,
email, phone and identifiers, and every message. On PostgreSQL, ``websearch_to_tsquery(
'simple', q)`` (words, "quoted phrases", ``or``, ``-excluded``) against the tickets'
trigger-kept, GIN-indexed search vectors (``tickets_ticket_search``, migration 0003; not a
model); elsewhere (SQLite) every word of ``q`` must appear, case-insensitively, somewhere in
that document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from channels_app.models import ChannelAccount, CustomChannel
from helpdesk.users import user_display_name
from tickets.models import (
    ContactIdentifier,
    Message,
    PipelineStatus,
    TicketPriority,
    TicketState,
)
from tickets.selectors import user_list_for_owner_menu

QUERY_MAX_LENGTH = 200
OWNER_ME = "me"
OWNER_NONE = "none"
FILTER_KEYS = ("q", "channel", "account", "status", "owner", "priority", "from", "to")


@dataclass(frozen=True)
class InboxFilters:
    """A search, or a custom view's conditions. Empty values mean "any".

    ``status`` is ``OPEN``/``CLOSED`` (any status of that state) or a pipeline status id;
    ``owner`` is ``me`` (whoever looks), ``none`` (unassigned) or a user id; the date range is
    the conversation's last activity, both days included, in the site's time zone.
    """

    q: str = ""
    channel: int | None = None
    account: int | None = None
    status: str = ""
    owner: str = ""
    priority: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def to_data(self) -> dict[str, Any]:
        """The set filters as JSON (a saved view's ``filters``) and query-string values."""
        data: dict[str, Any] = {
            "q": self.q,
            "channel": self.channel,
            "account": self.account,
            "status": self.status,
            "owner": self.owner,
            "priority": self.priority,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }
        return {key: value for key, value in data.items() if value not in (None, "")}

    @property
    def is_empty(self) -> bool:
        return not self.to_data()

    @classmethod
    def from_saved(cls, data: Mapping[str, Any]) -> InboxFilters:
        """A stored view's filters, validated when saved; anything unreadable is dropped, so a
        view whose channel was since deleted still opens (and matches nothing of it)."""

        def number(key: str) -> int | None:
            value = data.get(key)
            return int(str(value)) if str(value or "").isdigit() else None

        def day(key: str) -> date | None:
            try:
                return date.fromisoformat(str(data[key])) if data.get(key) else None
            except ValueError:
                return None

        return cls(
            q=str(data.get("q") or "")[:QUERY_MAX_LENGTH],
            channel=number("channel"),
            account=number("account"),
            status=str(data.get("status") or ""),
            owner=str(data.get("owner") or ""),
            priority=str(data.get("priority") or ""),
            date_from=day("from"),
            date_to=day("to"),
        )


class _AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.channel.name} · {obj.name}"


class InboxFilterForm(forms.Form):
    """The search form's filters; its choices are read when it is rendered or validated
    (four queries: channels, channel accounts, statuses, users)."""

    q = forms.CharField(label="Search", required=False, max_length=QUERY_MAX_LENGTH, strip=True)
    channel = forms.ModelChoiceField(
        label="Channel", required=False, queryset=CustomChannel.objects.order_by("name", "id")
    )
    account = _AccountChoiceField(
        label="Channel account",
        required=False,
        queryset=ChannelAccount.objects.select_related("channel").order_by("name", "id"),
    )
    status = forms.ChoiceField(label="Status", required=False)
    owner = forms.ChoiceField(label="Owner", required=False)
    priority = forms.ChoiceField(
        label="Priority",
        required=False,
        choices=[("", "Any priority"), *TicketPriority.choices],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the two date fields are added by name.
        self.fields["from"] = forms.DateField(
            label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields["to"] = forms.DateField(
            label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
        cast(forms.ModelChoiceField, self.fields["channel"]).empty_label = "Any channel"
        cast(forms.ModelChoiceField, self.fields["account"]).empty_label = "Any channel account"
        self.fields["status"].choices = _LazyChoices(_status_choices)  # type: ignore[attr-defined]
        self.fields["owner"].choices = _LazyChoices(_owner_choices)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and end < start:
            self.add_error("to", "The end date is before the start date.")
        return cleaned

    def filters(self) -> InboxFilters:
        """The valid form's filters (call after ``is_valid()``)."""
        data = self.cleaned_data
        return InboxFilters(
            q=data.get("q") or "",
            channel=data["channel"].pk if data.get("channel") else None,
            account=data["account"].pk if data.get("account") else None,
            status=data.get("status") or "",
            owner=data.get("owner") or "",
            priority=data.get("priority") or "",
            date_from=data.get("from"),
            date_to=data.get("to"),
        )


class _LazyChoices:
    """Choices computed when first iterated (rendering or validation), not at form creation."""

    def __init__(self, build: Any) -> None:
        self._build = build
        self._choices: list[Any] | None = None

    def __iter__(self) -> Any:
        if self._choices is None:
            self._choices = list(self._build())
        return iter(self._choices)


def _status_choices() -> list[Any]:
    statuses = PipelineStatus.objects.select_related("pipeline").order_by(
        "pipeline__display_order", "pipeline_id", "display_order", "id"
    )
    return [
        ("", "Any status"),
        (TicketState.OPEN.value, "Any open status"),
        (TicketState.CLOSED.value, "Any closed status"),
        *[(str(status.pk), f"{status.pipeline.name}: {status.name}") for status in statuses],
    ]


def _owner_choices() -> list[Any]:
    users = user_list_for_owner_menu()
    return [
        ("", "Any owner"),
        (OWNER_ME, "Me"),
        (OWNER_NONE, "Unassigned"),
        *[(str(user.pk), user_display_name(user)) for user in users],
    ]


def inbox_filter_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The filters present in ``data`` (a query string, a form post, a saved view's JSON)."""
    return {key: data[key] for key in FILTER_KEYS if data.get(key) not in (None, "")}


def inbox_filters_clean(data: Mapping[str, Any]) -> InboxFilters:
    """Validated filters from a saved view's JSON or a form post; unknown keys are ignored.

    Raises ``ValidationError`` with a message per field (``q``, ``channel``, ``from``…).
    """
    form = InboxFilterForm(inbox_filter_data(data))
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    return form.filters()


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def inbox_filters_q(filters: InboxFilters, *, user: Any) -> Q:
    """The tickets the filters select, for a ``Ticket`` queryset that aliases ``activity``
    (``tickets.inbox.tickets_with_activity``). ``owner=me`` means ``user``."""
    condition = Q()
    if filters.channel is not None:
        condition &= Q(channel_account__channel_id=filters.channel)
    if filters.account is not None:
        condition &= Q(channel_account_id=filters.account)
    if filters.status in TicketState.values:
        condition &= Q(state=filters.status)
    elif filters.status.isdigit():
        condition &= Q(status_id=int(filters.status))
    if filters.owner == OWNER_ME:
        condition &= Q(owner_id=user.pk)
    elif filters.owner == OWNER_NONE:
        condition &= Q(owner__isnull=True)
    elif filters.owner.isdigit():
        condition &= Q(owner_id=int(filters.owner))
    if filters.priority:
        condition &= Q(priority=filters.priority)
    if filters.date_from:
        condition &= Q(activity__gte=_day_start(filters.date_from))
    if filters.date_to:
        condition &= Q(activity__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.q.strip():
        condition &= ticket_text_q(filters.q)
    return condition


# --- Text search -----------------------------------------------------------------------------


class TicketDocumentMatches(Func):
    """PostgreSQL: the ticket's search document (migration 0003's ``tickets_ticket_search``)
    matches the websearch query ``q``. An EXISTS on the ticket's id, so the planner either walks
    the inbox order checking each ticket (common words) or reads the few matches from the GIN
    index (rare words); correlated through an F("pk"), it works in a list, a count or a
    subquery alike."""

    output_field = BooleanField()

    def __init__(self, q: str) -> None:
        super().__init__(F("pk"))
        self.q = q

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[str | int]]:
        ticket_sql, params = compiler.compile(self.source_expressions[0])
        sql = (
            "EXISTS (SELECT 1 FROM tickets_ticket_search ts"  # noqa: S608  (constant text)
            f" WHERE ts.ticket_id = {ticket_sql}"
            " AND ts.search_vector @@ websearch_to_tsquery('simple'::regconfig, %s))"
        )
        return sql, [*params, self.q]


# Messages have no stored vector: this only picks, among one result's messages, the one to show.
_MATCHING_MESSAGE_SQL = (
    "to_tsvector('simple'::regconfig, text) @@ websearch_to_tsquery('simple'::regconfig, %s)"
)


def search_uses_full_text() -> bool:
    """PostgreSQL's full-text search (migration 0003's vectors) rather than the fallback."""
    return connection.vendor == "postgresql"


def search_words(q: str) -> list[str]:
    """The fallback's words: websearch syntax (quotes, ``or``, a leading ``-``) dropped."""
    words = [word.strip("\"'").lstrip("-") for word in re.split(r"\s+", q.strip())]
    return [word for word in words if word and word.lower() != "or"]


def ticket_text_q(q: str) -> Q:
    """Tickets matching the search text ``q`` (a name, a contact, or a message body)."""
    if search_uses_full_text():
        return Q(TicketDocumentMatches(q))
    condition = Q()
    for word in search_words(q):
        condition &= (
            Q(name__icontains=word)
            | Q(contact__name__icontains=word)
            | Q(contact__email__icontains=word)
            | Q(contact__phone__icontains=word)
            | Q(
                Exists(
                    ContactIdentifier.objects.filter(
                        contact_id=OuterRef("contact_id"), value__icontains=word
                    )
                )
            )
            | Q(Exists(Message.objects.filter(ticket_id=OuterRef("pk"), text__icontains=word)))
        )
    return condition


def message_text_q(q: str) -> Q:
    """Messages whose body matches ``q`` (to show the matching message in a result)."""
    if search_uses_full_text():
        return Q(RawSQL(_MATCHING_MESSAGE_SQL, (q,), output_field=BooleanField()))  # noqa: S611
    body = Q()
    for word in search_words(q):
        body &= Q(text__icontains=word)
    return body
