"""Helpers of the settings pages' tests: an admin's browser with CSRF checks on, and channels."""

from __future__ import annotations

from typing import Any

from django.test import Client

from channels_app.capabilities import connection_fields_clean
from channels_app.models import App, CustomChannel
from tests.factories import CustomChannelFactory, default_inbox, default_pipeline

CHANNELS = "/settings/help-desk/channels/"
AUDIT_LOG = "/settings/help-desk/audit-log/"

CONNECTION_FIELDS = [
    {
        "name": "api_key",
        "label": "API key",
        "type": "secret",
        "required": True,
        "helpText": "From your dashboard",
    },
    {"name": "sender", "label": "Sender number", "type": "phone"},
    {"name": "region", "label": "Region", "type": "select", "options": ["eu", "us"]},
]


def post(browser: Client, url: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    """POSTs as a browser does: with the CSRF token of the cookie set by an earlier page."""
    if "csrftoken" not in browser.cookies:
        browser.get(CHANNELS)
    token = browser.cookies["csrftoken"].value
    return browser.post(url, {**(data or {}), "csrfmiddlewaretoken": token}, **extra)


def credentials_channel(app: App | None = None, **fields: Any) -> CustomChannel:
    default_inbox()
    default_pipeline()
    values: dict[str, Any] = {
        "name": "Acme SMS",
        "description": "Text messages",
        "logo_url": "https://bridge.example.com/logo.png",
        "connection_fields": connection_fields_clean(CONNECTION_FIELDS),
        **({"app": app} if app else {}),
        **fields,
    }
    return CustomChannelFactory(**values)


def routing_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "pipeline": "",
        "starting_status": "",
        "priority": "",
        "category": "",
        "name_template": "{contact} via {channel}",
        "mode": "NONE",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}
