"""Writes of outbound delivery: the outbox, attempts, retries, redelivery (SPEC O1).

The ``Delivery`` row is the source of truth. ``event_enqueue`` writes it in the caller's
transaction and wakes a worker after commit; ``delivery_attempt`` claims a due delivery with a
conditional update (a lease), sends it once through ``channels_app.http``, records the attempt
and decides: succeeded, retry at a time stored in the row, or failed. The sweeper
(``deliveries_dispatch_due``, Celery beat) wakes workers for due deliveries and reclaims leases
of workers that died, so nothing is lost to a killed worker, a Redis restart, or a crash
between commit and enqueue. A delivery that already succeeded is never sent again by a retry.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from channels_app import http
from channels_app.events import channel_account_event_payload
from channels_app.models import ChannelAccount, CustomChannel, Delivery, DeliveryAttempt
from channels_app.signing import signed_headers
from helpdesk.on_commit import after_commit

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 425, 429})


def _wake(channel_id: int, countdown: float = 0) -> None:
    from channels_app.tasks import deliveries_send_task

    if countdown <= 0:
        deliveries_send_task.delay(channel_id)
    elif not settings.CELERY_TASK_ALWAYS_EAGER:
        deliveries_send_task.apply_async((channel_id,), countdown=countdown)
    # In-process (eager) tasks ignore countdowns: the retry waits for the sweeper instead.


def _wake_key(channel_id: int) -> str:
    return f"deliveries:woken:{channel_id}"


def _wake_coalesced(channel_id: int) -> None:
    """Wakes a worker for the channel unless one was woken and has not started yet: a burst of
    replies is one task, which then sends them all in batches."""
    if cache.add(_wake_key(channel_id), 1, timeout=30):
        _wake(channel_id)


def _wake_after_commit(channel_id: int, countdown: float = 0) -> None:
    if countdown > 0:
        after_commit(_wake, channel_id, countdown)
    else:
        after_commit(_wake_coalesced, channel_id)


@transaction.atomic
def event_enqueue(
    *,
    channel: CustomChannel,
    event_type: str,
    payload: dict[str, Any],
    event_id: uuid.UUID | None = None,
    channel_account_id: int | None = None,
    message_id: int | None = None,
) -> Delivery:
    """Writes an event to the outbox; a worker sends it after commit.

    ``payload`` is the event body without ``eventId``/``eventTimestamp``, which are added here
    (they stay the same on every retry and on redelivery). A channel without a webhook URL gets
    a failed delivery at once, so the failure is visible.
    """
    now = timezone.now()
    event_id = event_id or uuid.uuid4()
    body = {
        "type": event_type,
        "eventId": str(event_id),
        "eventTimestamp": int(now.timestamp() * 1000),
        "portalId": settings.PORTAL_ID,
        **payload,
    }
    delivery = Delivery.objects.create(
        event_id=event_id,
        event_type=event_type,
        channel=channel,
        channel_account_id=channel_account_id,
        message_id=message_id,
        payload=body,
        status=Delivery.Status.PENDING,
        next_attempt_at=now,
    )
    if not channel.webhook_url:
        _finish(delivery, Delivery.Status.FAILED, "The channel has no webhook URL.")
        return delivery
    # Woken even if the webhook looks disabled: the claim reads the channel's current state.
    _wake_after_commit(channel.pk)
    return delivery


def channel_account_event_enqueue(*, account: ChannelAccount, event_type: str) -> Delivery:
    """Tells the app an account was connected, changed, deactivated or deleted (no credentials:
    the app pulls those from the credentials endpoint)."""
    return event_enqueue(
        channel=account.channel,
        event_type=event_type,
        payload=channel_account_event_payload(account),
        channel_account_id=account.pk,
    )


def retry_delay_seconds(attempt_number: int) -> float:
    """Wait after failed attempt ``attempt_number`` (1-based): full jitter under a growing cap."""
    caps = settings.WEBHOOK_RETRY_CAPS_SECONDS
    cap = caps[min(attempt_number - 1, len(caps) - 1)] * settings.WEBHOOK_RETRY_DELAY_SCALE
    return random.uniform(0, cap)  # noqa: S311 - jitter, not cryptography


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date), capped; None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    seconds: float | None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, min(float(seconds), float(settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS)))


@dataclass(frozen=True)
class Verdict:
    outcome: str  # DeliveryAttempt.Outcome
    reason: str
    delay: float | None = None
    disable_webhook: bool = False


def classify(result: http.HttpResult, *, attempt_number: int, now: datetime) -> Verdict:
    """What one attempt's result means (API.md "Delivery")."""
    status = result.status
    if result.error and (status is None or result.timed_out):
        verdict = Verdict(DeliveryAttempt.Outcome.RETRY, result.error)
    elif status is not None and 200 <= status < 300:
        return Verdict(DeliveryAttempt.Outcome.SUCCEEDED, "")
    elif status == 410:
        return Verdict(
            DeliveryAttempt.Outcome.FAILED,
            "The app answered 410 Gone: the channel's webhook is disabled until an admin "
            "re-enables it.",
            disable_webhook=True,
        )
    elif status is not None and (status in RETRYABLE_STATUSES or status >= 500):
        verdict = Verdict(DeliveryAttempt.Outcome.RETRY, f"The app answered HTTP {status}.")
        if status in (429, 503):
            wait = retry_after_seconds(result.headers.get("retry-after"), now)
            if wait is not None:
                verdict = Verdict(verdict.outcome, verdict.reason, delay=wait)
    elif status is not None and 300 <= status < 400:
        return Verdict(
            DeliveryAttempt.Outcome.FAILED,
            f"The app answered a redirect (HTTP {status}); redirects are not followed: "
            "update the channel's webhook URL.",
        )
    else:
        return Verdict(
            DeliveryAttempt.Outcome.FAILED, f"The app refused the event (HTTP {status})."
        )
    if attempt_number >= settings.WEBHOOK_MAX_ATTEMPTS:
        return Verdict(
            DeliveryAttempt.Outcome.FAILED,
            f"Gave up after {attempt_number} attempts. Last: {verdict.reason}",
        )
    if verdict.delay is None:
        verdict = Verdict(
            verdict.outcome, verdict.reason, delay=retry_delay_seconds(attempt_number)
        )
    return verdict


def _claim(deliveries: QuerySet[Delivery], limit: int) -> list[int]:
    """Takes up to ``limit`` due deliveries for this worker: locked rows others skip, then marked
    ``delivering`` with a lease and their attempt counted. Returns their ids."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            deliveries.filter(
                status=Delivery.Status.PENDING,
                next_attempt_at__lte=now,
                channel__webhook_disabled_at__isnull=True,
            )
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Delivery.objects.filter(pk__in=ids).update(
                status=Delivery.Status.DELIVERING,
                attempts=F("attempts") + 1,
                lease_expires_at=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS),
                updated_at=now,
            )
    return ids


def request_body(delivery: Delivery) -> bytes:
    """The exact bytes sent (and signed): the stored event, with file links signed afresh."""
    payload = delivery.payload
    if delivery.event_type == Delivery.EventType.OUTGOING_CHANNEL_MESSAGE_CREATED:
        from channels_app.events import refresh_attachment_urls

        payload = {**payload, "message": refresh_attachment_urls(payload.get("message") or {})}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class _Sent:
    delivery_id: int
    attempt_number: int
    started_at: datetime
    result: http.HttpResult
    verdict: Verdict


def _send(delivery: Delivery, body: bytes, secrets: list[str]) -> _Sent:
    """One HTTP attempt; touches no database (it runs on the sender threads)."""
    channel = delivery.channel
    started_at = timezone.now()
    try:
        headers = signed_headers(
            client_secret=channel.app.client_secret,
            signing_secrets=secrets,
            event_id=str(delivery.event_id),
            method="POST",
            uri=channel.webhook_url,
            body=body,
            now_ms=int(started_at.timestamp() * 1000),
        )
        result = http.post(channel.webhook_url, body=body, headers=headers)
    except http.WebhookTargetRefused as refused:
        result = http.HttpResult(None, error=f"Refused: {refused}")
        verdict = Verdict(DeliveryAttempt.Outcome.FAILED, result.error)
    else:
        verdict = classify(result, attempt_number=delivery.attempts, now=timezone.now())
    return _Sent(delivery.pk, delivery.attempts, started_at, result, verdict)


_sender_pool: ThreadPoolExecutor | None = None
_sender_pool_lock = threading.Lock()


def _sender_threads() -> ThreadPoolExecutor:
    global _sender_pool
    with _sender_pool_lock:
        if _sender_pool is None:
            _sender_pool = ThreadPoolExecutor(
                max_workers=settings.WEBHOOK_CHANNEL_CONCURRENCY, thread_name_prefix="webhook"
            )
        return _sender_pool


def _attempt_claimed(ids: list[int]) -> list[DeliveryAttempt]:
    """Sends claimed deliveries (concurrently, at most WEBHOOK_CHANNEL_CONCURRENCY at once) and
    records every outcome in one transaction."""
    deliveries = list(Delivery.objects.select_related("channel__app").filter(pk__in=ids))
    now = timezone.now()
    work = [
        (delivery, request_body(delivery), _valid_signing_secrets(delivery.channel, now))
        for delivery in deliveries
    ]
    if len(work) == 1:
        sent = [_send(*work[0])]
    else:
        sent = list(_sender_threads().map(lambda item: _send(*item), work))
    return _record(sent)


def delivery_attempt(*, delivery_id: int) -> DeliveryAttempt | None:
    """Claims, sends and records one attempt of one delivery. Safe to call twice: only one call
    claims a due delivery; the others return None."""
    ids = _claim(Delivery.objects.filter(pk=delivery_id), 1)
    if not ids:
        return None
    return _attempt_claimed(ids)[0]


def deliveries_send(*, channel_id: int) -> int:
    """Sends every due delivery of a channel, a batch at a time; returns how many were attempted.

    The claim commits before the HTTP requests (a crash leaves leases the sweeper reclaims) and
    the outcomes commit after them.
    """
    cache.delete(_wake_key(channel_id))  # deliveries committed from now on wake a new task
    attempted = 0
    while True:
        ids = _claim(Delivery.objects.filter(channel_id=channel_id), settings.WEBHOOK_BATCH_SIZE)
        if not ids:
            return attempted
        attempted += len(_attempt_claimed(ids))


def _valid_signing_secrets(channel: CustomChannel, now: datetime) -> list[str]:
    secrets = [channel.signing_secret]
    expires = channel.previous_signing_secret_expires_at
    if channel.previous_signing_secret and expires is not None and expires > now:
        secrets.append(channel.previous_signing_secret)
    return secrets


_OUTCOME_FIELDS = ["status", "last_status_code", "last_error", "lease_expires_at", "updated_at"]


@transaction.atomic
def _record(sent: list[_Sent]) -> list[DeliveryAttempt]:
    """Stores the attempts and moves each delivery on. Successes, the common case, cost a fixed
    number of statements whatever their count; retries and failures one save each."""
    locked = {
        delivery.pk: delivery
        for delivery in Delivery.objects.select_for_update().filter(
            pk__in=[item.delivery_id for item in sent]
        )
    }
    attempts = DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery_id=item.delivery_id,
            number=item.attempt_number,
            started_at=item.started_at,
            duration_ms=item.result.duration_ms,
            status_code=item.result.status,
            response_snippet=item.result.body_snippet[:1024],
            error=item.result.error[:2000],
            outcome=item.verdict.outcome,
        )
        for item in sent
    )
    now = timezone.now()
    succeeded_by_code: dict[int | None, list[Delivery]] = {}
    for item in sent:
        delivery = locked.get(item.delivery_id)
        if (
            delivery is None
            or delivery.status != Delivery.Status.DELIVERING
            or delivery.attempts != item.attempt_number
        ):
            continue  # our lease expired and the delivery moved on; the log keeps the attempt
        delivery.last_status_code = item.result.status
        delivery.last_error = item.verdict.reason
        delivery.lease_expires_at = None
        verdict = item.verdict
        if verdict.outcome == DeliveryAttempt.Outcome.SUCCEEDED:
            succeeded_by_code.setdefault(item.result.status, []).append(delivery)
        elif verdict.outcome == DeliveryAttempt.Outcome.FAILED:
            if verdict.disable_webhook:
                CustomChannel.objects.filter(pk=delivery.channel_id).update(webhook_disabled_at=now)
            _finish(delivery, Delivery.Status.FAILED, verdict.reason)
        else:
            delay = verdict.delay or 0.0
            delivery.status = Delivery.Status.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            delivery.save(update_fields=[*_OUTCOME_FIELDS, "next_attempt_at"])
            if delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:
                _wake_after_commit(delivery.channel_id, countdown=delay)
    for status_code, group in succeeded_by_code.items():
        _finish_succeeded(group, status_code, now)
    return attempts


def _finish_succeeded(deliveries: list[Delivery], status_code: int | None, now: datetime) -> None:
    from tickets.models import MessageStatus
    from tickets.services import message_statuses_move

    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        status=Delivery.Status.SUCCEEDED,
        last_status_code=status_code,
        last_error="",
        lease_expires_at=None,
        next_attempt_at=None,
        finished_at=now,
        updated_at=now,
    )
    message_ids = [d.message_id for d in deliveries if d.message_id is not None]
    if message_ids:
        # The app may already have PATCHed SENT or READ; only a pending reply becomes SENT.
        message_statuses_move(
            message_ids, from_statuses=[MessageStatus.PENDING], status=MessageStatus.SENT, now=now
        )


def _finish(delivery: Delivery, status: str, reason: str) -> None:
    """Ends a delivery and carries the outcome to its message (SENT, or FAILED with the reason)."""
    from tickets.models import MessageStatus
    from tickets.services import message_statuses_move

    delivery.status = status
    delivery.last_error = reason
    delivery.lease_expires_at = None
    delivery.next_attempt_at = None
    delivery.finished_at = timezone.now()
    delivery.save(update_fields=[*_OUTCOME_FIELDS, "next_attempt_at", "finished_at"])
    if delivery.message_id is None:
        return
    if status == Delivery.Status.SUCCEEDED:
        # The app may already have PATCHed SENT or READ; only a pending reply becomes SENT.
        message_statuses_move(
            [delivery.message_id],
            from_statuses=[MessageStatus.PENDING],
            status=MessageStatus.SENT,
            now=timezone.now(),
        )
    elif status == Delivery.Status.FAILED:
        message_statuses_move(
            [delivery.message_id],
            from_statuses=[MessageStatus.PENDING, MessageStatus.FAILED],
            status=MessageStatus.FAILED,
            now=timezone.now(),
            reason=reason,
        )


class RedeliveryRefused(Exception):
    """Redelivery is not possible now; the message says why."""


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Sends a finished delivery again, with the same event id (``webhook-id``).

    Its attempt count starts over; the attempt log keeps the earlier attempts.
    """
    from tickets.models import MessageStatus
    from tickets.services import message_statuses_move

    delivery = Delivery.objects.select_for_update().select_related("channel").get(pk=delivery.pk)
    if delivery.status in (Delivery.Status.PENDING, Delivery.Status.DELIVERING):
        raise RedeliveryRefused("This delivery is still being attempted.")
    if not delivery.channel.webhook_url:
        raise RedeliveryRefused("The channel has no webhook URL.")
    if delivery.channel.webhook_disabled_at is not None:
        raise RedeliveryRefused("The channel's webhook is disabled; re-enable it first.")
    delivery.status = Delivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.finished_at = None
    delivery.last_error = ""
    delivery.save()
    if delivery.message_id is not None:
        message_statuses_move(
            [delivery.message_id],
            from_statuses=[MessageStatus.FAILED],
            status=MessageStatus.PENDING,
            now=timezone.now(),
        )
    _wake_after_commit(delivery.channel_id)
    return delivery


@transaction.atomic
def webhook_reenable(*, channel: CustomChannel) -> CustomChannel:
    """Re-enables a webhook disabled by a 410; pending deliveries go out again."""
    CustomChannel.objects.filter(pk=channel.pk).update(webhook_disabled_at=None)
    channel.webhook_disabled_at = None
    after_commit(_wake_coalesced, channel.pk)
    return channel


def deliveries_dispatch_due(*, limit: int = 500) -> int:
    """The sweeper: reclaims expired leases (failing deliveries whose workers died too often)
    and wakes a worker for every channel with due deliveries. Returns how many channels."""
    now = timezone.now()
    with transaction.atomic():
        expired = Delivery.objects.filter(
            status=Delivery.Status.DELIVERING, lease_expires_at__lt=now
        ).select_for_update(skip_locked=True)
        for delivery in expired[:limit]:
            delivery.lease_expires_at = None
            if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                _finish(
                    delivery,
                    Delivery.Status.FAILED,
                    f"Gave up after {delivery.attempts} attempts: the worker was lost each time.",
                )
                continue
            delivery.status = Delivery.Status.PENDING
            delivery.next_attempt_at = now
            delivery.last_error = "The worker was lost during the attempt; retrying."
            delivery.save(update_fields=[*_OUTCOME_FIELDS, "next_attempt_at"])
    channel_ids = list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
            channel__webhook_disabled_at__isnull=True,
        )
        .values_list("channel_id", flat=True)
        .distinct()[:limit]
    )
    for channel_id in channel_ids:
        _wake_coalesced(channel_id)
    return len(channel_ids)
