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
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_app import http
from channels_app.events import channel_account_event_payload
from channels_app.models import ChannelAccount, CustomChannel, Delivery, DeliveryAttempt
from channels_app.signing import signed_headers
from helpdesk.on_commit import after_commit

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 425, 429})


def _wake(delivery_id: int, countdown: float = 0) -> None:
    from channels_app.tasks import delivery_attempt_task

    if countdown <= 0:
        delivery_attempt_task.delay(delivery_id)
    elif not settings.CELERY_TASK_ALWAYS_EAGER:
        delivery_attempt_task.apply_async((delivery_id,), countdown=countdown)
    # In-process (eager) tasks ignore countdowns: the retry waits for the sweeper instead.


def _wake_after_commit(delivery_id: int, countdown: float = 0) -> None:
    # Marked dispatched in the same transaction, so the sweeper does not wake it a second time.
    Delivery.objects.filter(pk=delivery_id).update(dispatched_at=timezone.now())
    after_commit(_wake, delivery_id, countdown)


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
    _wake_after_commit(delivery.pk)
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
        return Verdict(DeliveryAttempt.Outcome.FAILED, f"The app refused the event (HTTP {status}).")
    if attempt_number >= settings.WEBHOOK_MAX_ATTEMPTS:
        return Verdict(
            DeliveryAttempt.Outcome.FAILED,
            f"Gave up after {attempt_number} attempts. Last: {verdict.reason}",
        )
    if verdict.delay is None:
        verdict = Verdict(verdict.outcome, verdict.reason, delay=retry_delay_seconds(attempt_number))
    return verdict


def _claim(delivery_id: int) -> int | None:
    """Takes a due delivery for this worker; returns its attempt number, or None if not ours."""
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id,
        status=Delivery.Status.PENDING,
        next_attempt_at__lte=now,
        channel__webhook_disabled_at__isnull=True,
    ).update(
        status=Delivery.Status.DELIVERING,
        attempts=F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS),
        updated_at=now,
    )
    if not claimed:
        return None
    return int(Delivery.objects.values_list("attempts", flat=True).get(pk=delivery_id))


def request_body(delivery: Delivery) -> bytes:
    """The exact bytes sent (and signed): the stored event, with file links signed afresh."""
    payload = delivery.payload
    if delivery.event_type == Delivery.EventType.OUTGOING_CHANNEL_MESSAGE_CREATED:
        from channels_app.events import refresh_attachment_urls

        payload = {**payload, "message": refresh_attachment_urls(payload.get("message") or {})}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_attempt(*, delivery_id: int) -> DeliveryAttempt | None:
    """Claims, sends and records one attempt of a delivery. Safe to call twice: only one call
    claims a due delivery; the others return None.

    Not atomic as a whole on purpose: the claim commits before the HTTP request (so a crash
    leaves a lease the sweeper reclaims) and the outcome commits after it.
    """
    attempt_number = _claim(delivery_id)
    if attempt_number is None:
        return None
    delivery = Delivery.objects.select_related("channel__app").get(pk=delivery_id)
    channel = delivery.channel
    body = request_body(delivery)
    started_at = timezone.now()
    try:
        headers = signed_headers(
            client_secret=channel.app.client_secret,
            signing_secrets=_valid_signing_secrets(channel, started_at),
            event_id=str(delivery.event_id),
            method="POST",
            uri=channel.webhook_url,
            body=body,
            now_ms=int(started_at.timestamp() * 1000),
        )
        result = http.post(channel.webhook_url, body=body, headers=headers)
    except http.WebhookTargetRefused as refused:
        result = http.HttpResult(None, error=f"Refused: {refused}")
        verdict = Verdict(DeliveryAttempt.Outcome.FAILED, str(result.error))
    else:
        verdict = classify(result, attempt_number=attempt_number, now=timezone.now())
    return _record(delivery_id, attempt_number, started_at, result, verdict)


def _valid_signing_secrets(channel: CustomChannel, now: datetime) -> list[str]:
    secrets = [channel.signing_secret]
    expires = channel.previous_signing_secret_expires_at
    if channel.previous_signing_secret and expires is not None and expires > now:
        secrets.append(channel.previous_signing_secret)
    return secrets


@transaction.atomic
def _record(
    delivery_id: int,
    attempt_number: int,
    started_at: datetime,
    result: http.HttpResult,
    verdict: Verdict,
) -> DeliveryAttempt:
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        number=attempt_number,
        started_at=started_at,
        duration_ms=result.duration_ms,
        status_code=result.status,
        response_snippet=result.body_snippet[:1024],
        error=result.error[:2000],
        outcome=verdict.outcome,
    )
    if delivery.status != Delivery.Status.DELIVERING or delivery.attempts != attempt_number:
        # Our lease expired and the delivery moved on without us; the log keeps the attempt.
        return attempt
    delivery.last_status_code = result.status
    delivery.last_error = verdict.reason
    delivery.lease_expires_at = None
    if verdict.outcome == DeliveryAttempt.Outcome.SUCCEEDED:
        _finish(delivery, Delivery.Status.SUCCEEDED, "")
    elif verdict.outcome == DeliveryAttempt.Outcome.FAILED:
        if verdict.disable_webhook:
            CustomChannel.objects.filter(pk=delivery.channel_id).update(
                webhook_disabled_at=timezone.now()
            )
        _finish(delivery, Delivery.Status.FAILED, verdict.reason)
    else:
        delay = verdict.delay or 0.0
        delivery.status = Delivery.Status.PENDING
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        delivery.dispatched_at = None
        delivery.save()
        if delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:
            _wake_after_commit(delivery.pk, countdown=delay)
    return attempt


def _finish(delivery: Delivery, status: str, reason: str) -> None:
    """Ends a delivery and carries the outcome to its message (SENT, or FAILED with the reason)."""
    from tickets.models import Message, MessageStatus

    delivery.status = status
    delivery.last_error = reason
    delivery.lease_expires_at = None
    delivery.next_attempt_at = None
    delivery.finished_at = timezone.now()
    delivery.save()
    if delivery.message_id is None:
        return
    messages = Message.objects.filter(pk=delivery.message_id)
    if status == Delivery.Status.SUCCEEDED:
        # The app may already have PATCHed SENT or READ; only a pending reply becomes SENT.
        messages.filter(status=MessageStatus.PENDING).update(
            status=MessageStatus.SENT, failure_reason="", updated_at=timezone.now()
        )
    elif status == Delivery.Status.FAILED:
        messages.filter(status__in=[MessageStatus.PENDING, MessageStatus.FAILED]).update(
            status=MessageStatus.FAILED, failure_reason=reason, updated_at=timezone.now()
        )


class RedeliveryRefused(Exception):
    """Redelivery is not possible now; the message says why."""


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Sends a finished delivery again, with the same event id (``webhook-id``).

    Its attempt count starts over; the attempt log keeps the earlier attempts.
    """
    from tickets.models import Message, MessageStatus

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
        Message.objects.filter(pk=delivery.message_id, status=MessageStatus.FAILED).update(
            status=MessageStatus.PENDING, failure_reason="", updated_at=timezone.now()
        )
    _wake_after_commit(delivery.pk)
    return delivery


@transaction.atomic
def webhook_reenable(*, channel: CustomChannel) -> CustomChannel:
    """Re-enables a webhook disabled by a 410; pending deliveries go out again."""
    CustomChannel.objects.filter(pk=channel.pk).update(webhook_disabled_at=None)
    channel.webhook_disabled_at = None
    # Workers woken while it was disabled found nothing to claim; let the sweeper wake them now.
    Delivery.objects.filter(channel=channel, status=Delivery.Status.PENDING).update(
        dispatched_at=None
    )
    after_commit(deliveries_dispatch_due)
    return channel


def deliveries_dispatch_due(*, limit: int = 500) -> int:
    """The sweeper: reclaims expired leases, fails deliveries whose workers died too often, and
    wakes a worker for every due delivery nobody was woken for recently. Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        expired = Delivery.objects.filter(
            status=Delivery.Status.DELIVERING, lease_expires_at__lt=now
        )
        for delivery in expired.select_for_update(skip_locked=True)[:limit]:
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
            delivery.dispatched_at = None
            delivery.last_error = "The worker was lost during the attempt; retrying."
            delivery.save()
    recently = now - timedelta(seconds=max(30.0, 3 * settings.WEBHOOK_SWEEP_INTERVAL_SECONDS))
    due_ids = list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
            channel__webhook_disabled_at__isnull=True,
        )
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=recently))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if due_ids:
        Delivery.objects.filter(pk__in=due_ids).update(dispatched_at=now)
        for delivery_id in due_ids:
            _wake(delivery_id)
    return len(due_ids)
