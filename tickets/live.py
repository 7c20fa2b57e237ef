"""Live events of the reps' inbox (I8): stored with each change, pushed once it commits.

Services call ``live_event_publish`` (``live_events_publish`` for several events at once)
inside their transaction. The ``LiveEvent`` rows are written in that transaction, one INSERT
per call, and once it commits the events go to the channel layer: group ``inbox`` for every
rep's open page, ``user-<id>`` for one rep's notifications (``tickets.consumers``). A
transaction that rolls back leaves no row and pushes nothing.

Kinds (``LiveEvent.Kind``) and their ``data``:

- ``ticket.created``: a new ticket with its first message (``messageId``); ``{"direction"}``.
  The first message gets no ``message.created`` of its own.
- ``message.created``: a message on an existing ticket, either way; ``{"direction"}``.
- ``ticket.assigned``: the ticket got ``ownerId``; ``{"trigger"}`` (routing's trigger, or
  ``REPLY`` when a rep's reply took an unassigned ticket).
- ``ticket.status_changed``: ``{"statusId", "status", "state"}``.
- ``message.status_changed``: a reply's delivery status; ``{"status", "failureReason"}``.
  ``ownerId`` is null (the writers that change delivery statuses do not read the ticket).
- ``notification.created``: for one rep only; ``{"notificationId", "notificationKind",
  "text", "url"}``.

Sequence numbers are the events' ids. Ids are taken at INSERT and transactions commit in any
order, so an event can become visible after one with a higher number; the page subscribes
first, then asks ``/inbox/live/events/?after=`` with an overlap, and drops the numbers it has
already seen (``static/helpdesk/live.js``): no gaps, no duplicates.

Which event loop sends, without the committing thread waiting: a web process serving
websockets registers its loop when a page connects (``live_loop_register``); events committed
in any thread of that process (sync views, in-process tasks, the embedded scheduler) are
handed to that loop, which the in-memory channel layer needs (its queues belong to one loop).
Elsewhere (Celery workers, a WSGI process) a daemon thread of the process runs a loop of its
own for the Redis layer, which keeps its connections. With the in-memory layer and no page
connected to this process nobody could receive the event, and nothing is sent. Pushing is best
effort: a page that misses an event gets it from ``/inbox/live/events/``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from helpdesk.on_commit import after_commit
from tickets.models import LiveEvent, Message, Ticket

logger = logging.getLogger(__name__)

Kind = LiveEvent.Kind

GROUP_INBOX = "inbox"
# Every event names the consumer method that forwards it (``InboxConsumer.live_event``).
MESSAGE_TYPE = "live.event"


def user_group(user_id: int) -> str:
    """The channel layer group of one rep's pages (their notifications)."""
    return f"user-{user_id}"


def live_event_to_json(event: LiveEvent) -> dict[str, Any]:
    """An event as pages receive it, over the websocket and from ``/inbox/live/events/``."""
    return {
        "seq": event.pk,
        "kind": event.kind,
        "ticketId": event.ticket_id,
        "messageId": event.message_id,
        "ownerId": event.owner_id,
        "data": event.data,
        "createdAt": event.created_at.isoformat() if event.created_at else None,
    }


# --- Publishing -----------------------------------------------------------------------------


def live_event_publish(
    *,
    kind: str,
    ticket: Ticket,
    message: Message | None = None,
    data: dict[str, Any] | None = None,
) -> LiveEvent:
    """Stores one event of ``ticket`` in the current transaction (one INSERT) and pushes it to
    every signed-in rep's pages after commit (``live_notifications_publish`` sends a rep's own
    events). ``ownerId`` is the ticket's owner as the caller holds it."""
    return live_events_publish(
        [
            LiveEvent(
                kind=kind,
                ticket_id=ticket.pk,
                message_id=message.pk if message is not None else None,
                owner_id=ticket.owner_id,
                data=data or {},
            )
        ]
    )[0]


def live_events_publish(events: Sequence[LiveEvent]) -> list[LiveEvent]:
    """Stores unsaved events in one INSERT in the current transaction; pushes them in one
    after-commit callback, in order. Nothing is written or sent for an empty list."""
    if not events:
        return []
    stored = LiveEvent.objects.bulk_create(events)
    after_commit(
        live_events_push,
        [
            (user_group(event.user_id) if event.user_id else GROUP_INBOX, live_event_to_json(event))
            for event in stored
        ],
    )
    return stored


def live_message_statuses_publish(
    *, changed: Iterable[tuple[int, int]], status: str, failure_reason: str = ""
) -> list[LiveEvent]:
    """``message.status_changed`` for each ``(message id, ticket id)`` whose delivery status
    just became ``status`` (one INSERT for all of them)."""
    return live_events_publish(
        [
            LiveEvent(
                kind=Kind.MESSAGE_STATUS_CHANGED,
                ticket_id=ticket_id,
                message_id=message_id,
                data={"status": status, "failureReason": failure_reason},
            )
            for message_id, ticket_id in changed
        ]
    )


def live_notifications_publish(*, notifications: Iterable[Any], ticket: Ticket) -> list[LiveEvent]:
    """``notification.created`` for each stored ``routing.Notification`` of ``ticket``, each to
    its rep alone (one INSERT for all of them)."""
    return live_events_publish(
        [
            LiveEvent(
                kind=Kind.NOTIFICATION_CREATED,
                ticket_id=ticket.pk,
                message_id=notification.message_id,
                owner_id=ticket.owner_id,
                user_id=notification.user_id,
                data={
                    "notificationId": notification.pk,
                    "notificationKind": notification.kind,
                    "text": notification.text,
                    "url": reverse("inbox-notification-open", args=[notification.pk]),
                },
            )
            for notification in notifications
        ]
    )


# --- Pushing to the channel layer -----------------------------------------------------------

_loop_lock = threading.Lock()
_listening_loop: asyncio.AbstractEventLoop | None = None
_pusher: tuple[int, asyncio.AbstractEventLoop] | None = None


def live_loop_register(loop: asyncio.AbstractEventLoop) -> None:
    """The event loop of this process's websocket connections (the consumer calls it)."""
    global _listening_loop  # one loop per process, set by its consumers
    with _loop_lock:
        _listening_loop = loop


def _pusher_loop() -> asyncio.AbstractEventLoop:
    """This process's own loop for pushing, in a daemon thread (started on first use, again
    after a fork): its channel layer connections outlive each push."""
    global _pusher  # one per process
    with _loop_lock:
        if _pusher is None or _pusher[0] != os.getpid() or not _pusher[1].is_running():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=run, name="live-events-push", daemon=True).start()
            started.wait(5)
            _pusher = (os.getpid(), loop)
        return _pusher[1]


_push_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _push_lock() -> asyncio.Lock:
    """The running loop's lock for pushes (asyncio locks wake their waiters first come, first
    served, and coroutines handed to a loop start in the order they were handed over)."""
    loop = asyncio.get_running_loop()
    lock = _push_locks.get(loop)
    if lock is None:
        lock = _push_locks[loop] = asyncio.Lock()
    return lock


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _log_failure(future: Future[Any] | asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("Pushing live events failed", exc_info=future.exception())


def _run(factory: Callable[[], Coroutine[Any, Any, None]], *, in_memory: bool) -> None:
    """Runs the push on the websocket connections' loop, else (not in memory) on the pusher
    loop. Never waits: the request or task that committed does not wait for pages."""
    loop = _listening_loop
    if loop is None or not loop.is_running():
        if in_memory:
            return  # No page is connected to this process: nobody could receive it.
        loop = _pusher_loop()
    if _running_loop() is loop:
        # Sync code running on the loop itself: schedule, never block the loop.
        loop.create_task(factory()).add_done_callback(_log_failure)
    else:
        asyncio.run_coroutine_threadsafe(factory(), loop).add_done_callback(_log_failure)


def live_events_push(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Sends committed events, ``(group, event)``, to their groups (``after_commit`` calls it).
    Best effort: a page that misses one catches up from ``/inbox/live/events/``."""
    layer = get_channel_layer()
    if layer is None:
        return

    async def send() -> None:
        # One push at a time per loop, in the order they were handed over: two pushes (two
        # commits, or two groups) sent concurrently could reach a page out of sequence.
        async with _push_lock():
            for group, event in events:
                await layer.group_send(group, {"type": MESSAGE_TYPE, "event": event})

    _run(send, in_memory=isinstance(layer, InMemoryChannelLayer))


# --- Pruning --------------------------------------------------------------------------------


def live_events_prune(*, now: Any = None) -> int:
    """Deletes events older than ``LIVE_EVENT_RETENTION_SECONDS``; returns how many.

    Run by the periodic ``tickets.live_events_prune`` task. Finds the first event to keep by
    its creation time and deletes every older id in one statement (ids grow with time).
    """
    now = now or timezone.now()
    retention = float(getattr(settings, "LIVE_EVENT_RETENTION_SECONDS", 24 * 3600))
    first_kept = (
        LiveEvent.objects.filter(created_at__gte=now - timedelta(seconds=retention))
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    old = LiveEvent.objects.all()
    if first_kept is not None:
        old = old.filter(pk__lt=first_kept)
    deleted, _ = old.delete()
    return deleted
