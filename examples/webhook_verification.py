"""Verifying the help desk's webhooks in your app: copy this file into your bridge.

Standard library only. Every delivery carries two signatures; check either (or both):

    from webhook_verification import verify_standard_webhook, verify_hubspot_v3

    event = verify_standard_webhook(
        signing_secret="whsec_...",            # shown when the channel was created or rotated
        headers=request.headers, body=request.body,
    )
    verify_hubspot_v3(
        client_secret="...",                   # your app's client secret
        method="POST", url="https://your.app/webhooks/helpdesk",  # the public URL, as registered
        headers=request.headers, body=request.body,
    )

Both raise ``WebhookVerificationError`` on a bad signature or a timestamp outside 5 minutes.
Deduplicate on ``webhook-id`` (the same on every retry and on redelivery).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

TOLERANCE_SECONDS = 300
_HUBSPOT_DECODED = (
    "%3A",
    "%2F",
    "%3F",
    "%40",
    "%21",
    "%24",
    "%27",
    "%28",
    "%29",
    "%2A",
    "%2C",
    "%3B",
)


class WebhookVerificationError(Exception):
    pass


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = {key.lower(): value for key, value in headers.items()}
    value = lowered.get(name.lower())
    if not value:
        raise WebhookVerificationError(f"Missing header {name}")
    return value


def _check_age(seconds: float, now: float | None) -> None:
    if abs((now if now is not None else time.time()) - seconds) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("Timestamp outside the 5-minute tolerance")


def verify_standard_webhook(
    *, signing_secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> Any:
    """Standard Webhooks v1: HMAC-SHA256 over ``id.timestamp.body``; returns the parsed event."""
    event_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    if not timestamp.isdigit():
        raise WebhookVerificationError("Invalid webhook-timestamp")
    _check_age(int(timestamp), now)
    encoded = signing_secret.removeprefix("whsec_")
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    expected = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    for candidate in _header(headers, "webhook-signature").split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(signature), expected):
            return json.loads(body)
    raise WebhookVerificationError("No matching signature")


def verify_hubspot_v3(
    *,
    client_secret: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> Any:
    """HubSpot v3: base64(HMAC-SHA256(clientSecret, METHOD + URL + body + timestamp))."""
    timestamp = _header(headers, "X-HubSpot-Request-Timestamp")
    if not timestamp.isdigit():
        raise WebhookVerificationError("Invalid X-HubSpot-Request-Timestamp")
    _check_age(int(timestamp) / 1000, now)
    for escape in _HUBSPOT_DECODED:
        url = url.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    message = method.upper().encode() + url.encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, _header(headers, "X-HubSpot-Signature-v3").encode()):
        raise WebhookVerificationError("Signature mismatch")
    return json.loads(body)
