"""Connecting and managing a channel in a real browser (SPEC C1-C4, O4), as an admin does it.

The demo app's own channel definition is registered through the API, so the wizard shows the
channel a newcomer sees after ``make run``. Screenshots of each wizard step land in
``test-output/screenshots/``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from channels_app.models import AuditEntry, ChannelAccount, CustomChannel
from examples.demo_app.server import channel_body
from routing.models import RepProfile, RoutingRule, Team
from tests.conftest import AppClient, make_app_client
from tests.factories import default_inbox, default_pipeline
from tests.receiver import Answer, running_receiver
from tests.tickets.factories import message_body, messages_url

pytestmark = pytest.mark.django_db(transaction=True)

CHANNELS = "/settings/help-desk/channels/"


def _user(username: str, role: str, **names: str) -> Any:
    user = get_user_model().objects.create_user(username, password="irrelevant", **names)
    RepProfile.objects.update_or_create(user=user, defaults={"role": role})
    return user


@pytest.fixture
def demo_app(db: None) -> tuple[AppClient, CustomChannel]:
    """The demo app, installed, with the channel it registers on first start."""
    default_inbox()
    default_pipeline()
    app_client = make_app_client()
    created = app_client.client.post(
        "/conversations/v3/custom-channels",
        channel_body("http://127.0.0.1:9/webhooks/helpdesk"),
        format="json",
    )
    assert created.status_code == 201, created.content
    return app_client, CustomChannel.objects.get(pk=created.json()["id"])


def _inbound(app_client: AppClient, channel: CustomChannel, account: ChannelAccount) -> int:
    response = app_client.client.post(messages_url(channel), message_body(account), format="json")
    return response.status_code


def test_an_admin_connects_edits_deactivates_reactivates_and_deletes_the_demo_channel(
    page: Any, sign_in: Any, screenshot: Any, demo_app: tuple[AppClient, CustomChannel]
) -> None:
    app_client, channel = demo_app
    admin = _user("admin", RepProfile.Role.ADMIN)
    alex = _user("alex", RepProfile.Role.REP, first_name="Alex", last_name="Rivera")
    support = Team.objects.create(name="Support")
    sign_in(admin)

    page.goto(CHANNELS)
    expect(page.get_by_test_id("empty-state")).to_contain_text("custom channel")
    screenshot(page, "connect-0-empty-channels")
    page.get_by_role("link", name="Connect a channel").first.click()
    expect(page.get_by_role("heading", name="Connect a new channel")).to_be_visible()
    screenshot(page, "connect-1-pick-channel")

    page.get_by_role("button", name=f"Continue with {channel.name}").click()
    expect(page.get_by_role("heading", name=f"Connect {channel.name}")).to_be_visible()
    # A required credential left empty: its error beside the field, nothing stored.
    page.get_by_label("Account name").fill("Front desk")
    page.get_by_role("button", name="Next").click()
    api_key_field = page.locator(".field", has=page.get_by_label("API key"))
    expect(api_key_field.locator(".errorlist")).to_contain_text("required")
    expect(page.get_by_label("Account name")).to_have_value("Front desk")
    assert not ChannelAccount.objects.exists()
    screenshot(page, "connect-2-credentials-error")

    page.get_by_label("API key").fill("demo-key-1")
    screenshot(page, "connect-2-credentials")
    page.get_by_role("button", name="Next").click()
    expect(
        page.get_by_role("heading", name="Set ticket properties for this channel")
    ).to_be_visible()
    page.get_by_label("Automatically assign tickets").check()
    page.get_by_label("Specific users and teams").check()
    page.get_by_label("Users", exact=True).select_option(label="Alex Rivera")
    page.get_by_label("Teams", exact=True).select_option(label="Support")
    screenshot(page, "connect-3-routing")
    page.get_by_role("button", name="Next").click()

    done = page.get_by_test_id("connect-done")
    expect(done).to_contain_text("Front desk is connected")
    for link in ("Connect another account", "Connect a channel", "Go to help desk", "Done"):
        expect(done.get_by_role("link", name=link, exact=True)).to_be_visible()
    screenshot(page, "connect-4-done")
    account = ChannelAccount.objects.get()
    assert account.credentials == {"apiKey": "demo-key-1"}
    rule = account.routing_rule
    assert (rule.auto_assign, rule.mode) == (True, RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS)
    assert list(rule.users.all()) == [alex]
    assert list(rule.teams.all()) == [support]

    done.get_by_role("link", name="Done", exact=True).click()
    row = page.locator(f"tr[data-account-id='{account.pk}']")
    expect(row).to_contain_text("Front desk")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Specific users and teams: Support, Alex Rivera")
    screenshot(page, "channels-list")

    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Contact owner").check()
    page.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Contact owner")
    account.routing_rule.refresh_from_db()
    assert account.routing_rule.mode == RoutingRule.Mode.CONTACT_OWNER

    row.get_by_role("switch", name=f"Deactivate {account.name}").click()
    expect(page.get_by_role("alertdialog")).to_contain_text(f"Deactivate {account.name}?")
    page.get_by_role("button", name="Deactivate").click()
    expect(row).to_contain_text("Inactive")
    assert _inbound(app_client, channel, account) == 409

    row.get_by_role("switch", name=f"Reactivate {account.name}").click()
    expect(row).to_contain_text("Active")
    assert _inbound(app_client, channel, account) == 201

    row.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete account").click()
    expect(page.locator(f"tr[data-account-id='{account.pk}']")).to_have_count(0)
    account.refresh_from_db()
    assert account.archived
    assert _inbound(app_client, channel, account) == 404

    page.goto("/settings/help-desk/audit-log/")
    log = page.locator("main")
    for action in ("Connect", "Edit", "Deactivate", "Reactivate", "Delete"):
        expect(log).to_contain_text(action)
    actions = list(
        AuditEntry.objects.filter(channel_account=account)
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["connect", "edit", "deactivate", "reactivate", "delete"]
    assert "demo-key-1" not in page.content()
    screenshot(page, "audit-log")


def test_the_redirect_flow_completes_with_the_apps_staging_token(
    page: Any, sign_in: Any, screenshot: Any, demo_app: tuple[AppClient, CustomChannel]
) -> None:
    app_client, channel = demo_app
    admin = _user("admin", RepProfile.Role.ADMIN)
    sign_in(admin)
    bridge_page = Answer(headers={"Content-Type": "text/html"}, body=b"<h1>Bridge sign-in</h1>")
    with running_receiver(default=bridge_page) as app_page:
        CustomChannel.objects.filter(pk=channel.pk).update(
            account_connection_redirect_url=f"{app_page.url}?lang=en"
        )

        page.goto(f"{CHANNELS}connect/")
        page.get_by_role("button", name=f"Continue with {channel.name}").click()
        expect(
            page.get_by_role("heading", name="Set ticket properties for this channel")
        ).to_be_visible()
        page.get_by_role("button", name="Next").click()

        expect(page.get_by_role("heading", name="Bridge sign-in")).to_be_visible()
        arrived = app_page.wait_for(1)[0]  # (then the browser asks for a favicon)
        query = {key: values[0] for key, values in parse_qs(urlsplit(arrived.path).query).items()}
        assert query["lang"] == "en"
        assert query["channelId"] == str(channel.pk)

        completed = app_client.client.patch(
            f"/conversations/v3/custom-channels/{channel.pk}/channel-account-staging-tokens/"
            f"{query['accountToken']}",
            {"accountName": "Bridge line"},
            format="json",
        )
        assert completed.status_code == 200, completed.content
        # The app sends the admin back; the wizard resumes where it left off.
        page.goto(query["returnUrl"])

    expect(page.get_by_test_id("connect-done")).to_contain_text("Bridge line is connected")
    screenshot(page, "connect-redirect-done")
    account = ChannelAccount.objects.get()
    assert account.name == "Bridge line"
    assert AuditEntry.objects.get(channel_account=account).action == "connect"


def test_a_rep_is_refused_the_settings_pages(page: Any, sign_in: Any) -> None:
    sign_in(_user("rep", RepProfile.Role.REP))
    for path in (CHANNELS, f"{CHANNELS}connect/", "/settings/help-desk/audit-log/"):
        response = page.goto(path)
        assert response.status == 403
        expect(page.locator("main")).to_contain_text("admin")
