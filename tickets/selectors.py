"""Reads of tickets' conversations for the API, pages and tasks, with their related data."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from channels_app.models import App, CustomChannel
from helpdesk.api_fields import parse_id
from tickets.models import Attachment, File, Message


def attachments_prefetch() -> Prefetch:
    """What rendering a message needs of its attachments: the rows and their files, one query."""
    return Prefetch("attachments", queryset=Attachment.objects.select_related("file"))


def message_list_for_api(ids: Iterable[int]) -> QuerySet[Message]:
    """Messages by id with everything ``message_to_api`` reads (two queries for any count)."""
    return Message.objects.filter(pk__in=list(ids)).prefetch_related(attachments_prefetch())


def message_get_for_channel(*, channel: CustomChannel, message_id: str) -> Message | None:
    """A message of ``channel`` by its API id (None when malformed, missing or elsewhere)."""
    pk = parse_id(message_id, "messageId")
    if pk is None:
        return None
    return (
        Message.objects.filter(channel=channel, pk=pk)
        .prefetch_related(attachments_prefetch())
        .first()
    )


def file_map_for_app(*, app: App, ids: Iterable[int]) -> dict[int, File]:
    """The app's files among ``ids``, by id; other apps' files are absent as if unknown."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {file.pk: file for file in File.objects.filter(app=app, pk__in=wanted)}


def file_get(*, file_id: int) -> File | None:
    return File.objects.filter(pk=file_id).first()
