"""Bodies of the webhook events sent to apps (API.md "Webhooks to the app")."""

from __future__ import annotations

from typing import Any

from channels_app.models import ChannelAccount


def channel_account_event_payload(account: ChannelAccount) -> dict[str, Any]:
    """``CHANNEL_ACCOUNT_*`` events: the account's identity and state, never its credentials."""
    return {
        "channelId": str(account.channel_id),
        "channelAccountId": str(account.pk),
        "channelAccountDeliveryIdentifier": account.delivery_identifier,
        "authorized": account.authorized,
        "active": account.active,
    }


def refresh_attachment_urls(message: dict[str, Any]) -> dict[str, Any]:
    """The message with each FILE attachment's ``url`` signed again: links stored with the event
    expire, and a retry or redelivery may go out days later."""
    from tickets.files import file_url
    from tickets.models import File

    attachments = message.get("attachments") or []
    file_ids = [
        int(item["fileId"])
        for item in attachments
        if item.get("type") == "FILE" and str(item.get("fileId", "")).isdigit()
    ]
    if not file_ids:
        return message
    files = File.objects.in_bulk(file_ids)
    refreshed = []
    for item in attachments:
        file = files.get(int(item["fileId"])) if str(item.get("fileId", "")).isdigit() else None
        refreshed.append({**item, "url": file_url(file)} if file is not None else item)
    return {**message, "attachments": refreshed}
