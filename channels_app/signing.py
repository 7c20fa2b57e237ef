"""Webhook signatures: HubSpot v3 and Standard Webhooks, both on every delivery (API.md).

- HubSpot v3: ``X-HubSpot-Signature-v3 = base64(HMAC-SHA256(clientSecret,
  METHOD + URI + rawBody + timestamp))`` with ``X-HubSpot-Request-Timestamp`` in ms.
- Standard Webhooks: ``webhook-signature = "v1," + base64(HMAC-SHA256(secret,
  id + "." + timestamp + "." + rawBody))``, one per valid secret, space-separated, where the
  secret is the base64 after ``whsec_``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from urllib.parse import unquote

SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret

# HubSpot decodes these escapes in the URI before signing; we sign the same form.
_HUBSPOT_DECODED_ESCAPES = (
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


def signing_secret_generate() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return SIGNING_SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def _secret_bytes(secret: str) -> bytes:
    encoded = secret.removeprefix(SIGNING_SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def hubspot_uri(uri: str) -> str:
    for escape in _HUBSPOT_DECODED_ESCAPES:
        uri = uri.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return uri


def hubspot_v3_signature(
    *, client_secret: str, method: str, uri: str, body: bytes, timestamp_ms: int
) -> str:
    message = (
        method.upper().encode() + hubspot_uri(uri).encode() + body + str(timestamp_ms).encode()
    )
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def standard_webhooks_signature(
    *, secrets: Iterable[str], event_id: str, timestamp_s: int, body: bytes
) -> str:
    """The ``webhook-signature`` header: one ``v1,<sig>`` per secret (rotation overlap)."""
    signed = f"{event_id}.{timestamp_s}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(
            hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
        ).decode()
        for secret in secrets
        if secret
    )


def signed_headers(
    *,
    client_secret: str,
    signing_secrets: Iterable[str],
    event_id: str,
    method: str,
    uri: str,
    body: bytes,
    now_ms: int,
) -> dict[str, str]:
    """Every signature header of one attempt (timestamps are per attempt; the id is not)."""
    timestamp_s = now_ms // 1000
    return {
        "X-HubSpot-Request-Timestamp": str(now_ms),
        "X-HubSpot-Signature-v3": hubspot_v3_signature(
            client_secret=client_secret, method=method, uri=uri, body=body, timestamp_ms=now_ms
        ),
        "X-HubSpot-Signature-Version": "v3",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": standard_webhooks_signature(
            secrets=signing_secrets, event_id=event_id, timestamp_s=timestamp_s, body=body
        ),
    }
