"""The verification helper we publish for app authors accepts our signatures and rejects
tampering; checked against what the delivery code actually sends."""

import time

import pytest

from channels_app.signing import signed_headers, signing_secret_generate
from examples.webhook_verification import (
    WebhookVerificationError,
    verify_hubspot_v3,
    verify_standard_webhook,
)

URL = "https://bridge.example.com/webhooks/helpdesk?channel=1"


def _signed(
    body: bytes, *, secrets: list[str], client_secret: str = "client-secret"
) -> dict[str, str]:
    return signed_headers(
        client_secret=client_secret,
        signing_secrets=secrets,
        event_id="4c1b7b4e-9f7a-4d7e-8a52-0f0e6d1e2a3b",
        method="POST",
        uri=URL,
        body=body,
        now_ms=int(time.time() * 1000),
    )


def test_both_signatures_verify():
    secret = signing_secret_generate()
    body = b'{"type":"CHANNEL_ACCOUNT_UPDATED"}'
    headers = _signed(body, secrets=[secret])
    assert verify_standard_webhook(signing_secret=secret, headers=headers, body=body) == {
        "type": "CHANNEL_ACCOUNT_UPDATED"
    }
    verify_hubspot_v3(
        client_secret="client-secret", method="POST", url=URL, headers=headers, body=body
    )


def test_either_secret_verifies_during_rotation():
    old, new = signing_secret_generate(), signing_secret_generate()
    body = b"{}"
    headers = _signed(body, secrets=[new, old])
    verify_standard_webhook(signing_secret=old, headers=headers, body=body)
    verify_standard_webhook(signing_secret=new, headers=headers, body=body)


@pytest.mark.parametrize("tamper", ["body", "secret", "old"])
def test_tampering_and_stale_requests_are_rejected(tamper):
    secret = signing_secret_generate()
    body = b'{"a":1}'
    headers = _signed(body, secrets=[secret])
    kwargs = {"signing_secret": secret, "headers": headers, "body": body}
    if tamper == "body":
        kwargs["body"] = b'{"a":2}'
    elif tamper == "secret":
        kwargs["signing_secret"] = signing_secret_generate()
    else:
        kwargs["now"] = time.time() + 600
    with pytest.raises(WebhookVerificationError):
        verify_standard_webhook(**kwargs)
    with pytest.raises(WebhookVerificationError):
        verify_hubspot_v3(
            client_secret="other" if tamper == "secret" else "client-secret",
            method="POST",
            url=URL,
            headers=headers,
            body=kwargs["body"],
            now=kwargs.get("now"),
        )
