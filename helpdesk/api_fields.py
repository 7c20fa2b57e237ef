"""Serializer fields and helpers shared by every API: ids as strings, timestamps, paging."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.api_errors import field_error

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def format_timestamp(value: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds: ``2026-11-25T10:00:00.000Z``."""
    if value is None:
        return None
    value = timezone.localtime(value, UTC) if timezone.is_aware(value) else value
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class TimestampField(serializers.DateTimeField):
    """Reads any ISO-8601 form (HubSpot's SDKs send ``+00:00`` and microseconds); writes ms + Z."""

    def to_representation(self, value: datetime) -> str | None:  # type: ignore[override]
        return format_timestamp(value)


@extend_schema_field(OpenApiTypes.STR)
class IdField(serializers.Field):
    """A primary key, as a string in responses (API.md: "All ids are strings")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return str(value)


def parse_id(value: str | None, path: str) -> int | None:
    """An id from a URL or query parameter; anything but digits is simply not found (None)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def page_after(
    queryset: QuerySet[Any], *, after: str | None, limit: str | None
) -> tuple[list[Any], str | None]:
    """Keyset paging by id: returns the page and the ``after`` cursor of the next page, if any."""
    size = DEFAULT_PAGE_SIZE
    if limit not in (None, ""):
        if not str(limit).isdigit() or not 1 <= int(str(limit)) <= MAX_PAGE_SIZE:
            raise field_error("limit", f"must be an integer from 1 to {MAX_PAGE_SIZE}")
        size = int(str(limit))
    if after not in (None, ""):
        if not str(after).isdigit() or len(str(after)) > 18:
            raise field_error("after", "must be the 'after' cursor of a previous page")
        queryset = queryset.filter(pk__gt=int(str(after)))
    rows = list(queryset.order_by("pk")[: size + 1])
    if len(rows) > size:
        return rows[:size], str(rows[size - 1].pk)
    return rows, None


def paged_body(results: list[Any], next_after: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"results": results}
    if next_after is not None:
        body["paging"] = {"next": {"after": next_after}}
    return body
