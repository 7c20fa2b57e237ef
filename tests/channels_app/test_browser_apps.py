"""An admin manages an app's tokens in a real browser (SPEC C5, O4): the token is shown once
with a copy button, works against the live server's API, and stops working once revoked; the
audit log lists both changes. Screenshots land in ``test-output/screenshots/apps-*.png``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from channels_app.models import AppToken, AuditEntry, Delivery
from channels_app.services import app_create
from routing.models import RepProfile
from tests.factories import CustomChannelFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _api_status(live_server: Any, token: str) -> int:
    """``GET /conversations/v3/custom-channels`` over HTTP, as the app calls it."""
    request = urllib.request.Request(
        f"{live_server.url}/conversations/v3/custom-channels",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_an_admin_creates_a_token_copies_it_once_and_revokes_it(
    page: Any, sign_in: Any, screenshot: Any, live_server: Any
) -> None:
    admin = get_user_model().objects.create_user("ada", password="irrelevant", first_name="Ada")
    RepProfile.objects.create(user=admin, role=RepProfile.Role.ADMIN)
    app = app_create(name="Acme SMS", created_by_id=admin.pk).app
    # A channel with a failed and a delivered event, so the screenshots show the deliveries.
    channel = CustomChannelFactory(
        app=app, name="Acme SMS", webhook_url="https://sms.example.com/hook"
    )
    for status, code, error in [
        (Delivery.Status.FAILED, 500, "Gave up after 8 attempts. Last: The app answered HTTP 500."),
        (Delivery.Status.SUCCEEDED, 200, ""),
    ]:
        Delivery.objects.create(
            event_id=uuid.uuid4(),
            event_type=Delivery.EventType.OUTGOING_CHANNEL_MESSAGE_CREATED,
            channel=channel,
            payload={},
            status=status,
            attempts=8 if code == 500 else 1,
            last_status_code=code,
            last_error=error,
        )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(admin)

    page.goto("/settings/help-desk/channels/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Apps").click()
    expect(page.get_by_role("heading", name="Apps")).to_be_visible()
    expect(page.locator(f'tr[data-app-id="{app.pk}"]')).to_contain_text("by Ada")
    screenshot(page, "apps-1-list")
    page.get_by_role("link", name="Acme SMS").click()
    page.get_by_role("link", name="Create token").click()

    page.get_by_label("Name").fill("Production bridge")
    page.get_by_label("Manage custom channels and publish messages").uncheck()
    page.get_by_role("button", name="Create token").click()

    shown = page.get_by_test_id("shown-once")
    expect(shown).to_contain_text("you will not see this again")
    token = page.get_by_test_id("secret-value").inner_text().strip()
    assert token.startswith("pat-hd-")
    page.get_by_role("button", name="Copy").click()
    expect(shown.get_by_role("status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    screenshot(page, "apps-2-token-shown-once")
    stored = AppToken.objects.get(name="Production bridge")
    assert stored.scopes == ["conversations.custom_channels.read", "conversations.read"]
    assert _api_status(live_server, token) == 200

    page.reload()
    expect(page.get_by_test_id("shown-once")).to_have_count(0)
    assert token not in page.content()

    page.get_by_role("link", name="Revoke token Production bridge").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Revoke the token “Production bridge”?")
    screenshot(page, "apps-3-revoke-confirm")
    page.get_by_role("button", name="Revoke token").click()
    expect(page.locator(f'tr[data-token-id="{stored.pk}"]')).to_contain_text("Revoked")
    expect(page.get_by_role("status").first).to_contain_text("is revoked")
    screenshot(page, "apps-4-token-revoked")
    assert _api_status(live_server, token) == 401

    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Audit log").click()
    entries = page.get_by_test_id("audit-entries")
    created = entries.locator('tr[data-action="token_create"]', has_text="Production bridge")
    revoked = entries.locator('tr[data-action="token_revoke"]', has_text="Production bridge")
    expect(created).to_contain_text("Ada")
    expect(revoked).to_contain_text("Ada")
    page.get_by_role("combobox").first.select_option("token_revoke")
    page.get_by_role("button", name="Filter").click()
    expect(entries.locator("tbody tr")).to_have_count(1)
    expect(entries).to_contain_text("Token revoked")
    screenshot(page, "apps-5-audit-log")
    assert AuditEntry.objects.filter(actor=admin, action="token_revoke").count() == 1
