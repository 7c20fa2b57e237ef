"""Settings → Help Desk → Apps (SPEC C5, C7, O4): the apps list, "Create app", secrets and
tokens shown once, token revocation, uninstall, signing-secret rotation, recent deliveries with
Redeliver and Re-enable webhook, and the audit entries the services record. Tokens are checked
against the API as an app uses them."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from channels_app.installs import app_redirect_uris_set, app_uninstall
from channels_app.models import App, AppToken, AuditEntry, CustomChannel, Delivery
from channels_app.services import app_create, token_create, token_revoke
from routing.models import RepProfile
from tests.channels_app.oauth_client import REDIRECT_URI, user_with_role
from tests.channels_app.settings_helpers import AUDIT_LOG, post
from tests.conftest import make_app_client
from tests.factories import AppFactory, CustomChannelFactory

pytestmark = pytest.mark.django_db

APPS = "/settings/help-desk/apps/"
API_CHANNELS = "/conversations/v3/custom-channels"
READ = "conversations.custom_channels.read"
WRITE = "conversations.custom_channels.write"


def app_url(app: App) -> str:
    return f"{APPS}{app.pk}/"


def api_status(token: str) -> int:
    """What the API answers the app's ``GET /conversations/v3/custom-channels`` with."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return int(client.get(API_CHANNELS).status_code)


def shown_secrets(html: str) -> list[str]:
    return re.findall(r'data-testid="secret-value">([^<]+)</code>', html)


def admin_of(browser: Client) -> Any:
    return browser.session["_auth_user_id"]


def delivery(channel: CustomChannel, status: str = Delivery.Status.FAILED, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "event_type": Delivery.EventType.OUTGOING_CHANNEL_MESSAGE_CREATED,
        "channel": channel,
        "payload": {"type": "OUTGOING_CHANNEL_MESSAGE_CREATED"},
        "status": status,
        "attempts": 5,
        "last_status_code": 500,
        "last_error": "Gave up after 5 attempts. Last: The app answered HTTP 500.",
        **fields,
    }
    return Delivery.objects.create(**values)


# --- Who may open the pages -------------------------------------------------------------------


def _every_page(app: App, token: AppToken, channel: CustomChannel) -> list[str]:
    return [
        APPS,
        f"{APPS}new/",
        app_url(app),
        f"{app_url(app)}tokens/new/",
        f"{app_url(app)}tokens/{token.pk}/revoke/",
        f"{app_url(app)}uninstall/",
        f"{app_url(app)}channels/{channel.pk}/rotate-signing-secret/",
    ]


def test_signed_out_visitors_are_sent_to_sign_in() -> None:
    created = app_create(name="Acme SMS")
    channel = CustomChannelFactory(app=created.app)
    token = AppToken.objects.get(app=created.app)
    for url in _every_page(created.app, token, channel):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


def test_a_rep_gets_403_and_changes_nothing() -> None:
    created = app_create(name="Acme SMS")
    app = created.app
    app_redirect_uris_set(app=app, redirect_uris=[REDIRECT_URI])
    channel = CustomChannelFactory(app=app)
    token = AppToken.objects.get(app=app)
    failed = delivery(channel)
    browser = Client()  # CSRF checks off: the refusal is the role's
    browser.force_login(user_with_role(RepProfile.Role.REP))
    for url in _every_page(app, token, channel):
        response = browser.get(url)
        assert response.status_code == 403, url
        assert b"Only admins can open this page" in response.content
    secret = channel.signing_secret
    for url in [
        f"{APPS}new/",
        f"{app_url(app)}tokens/new/",
        f"{app_url(app)}tokens/{token.pk}/revoke/",
        f"{app_url(app)}uninstall/",
        f"{app_url(app)}channels/{channel.pk}/rotate-signing-secret/",
        f"{app_url(app)}channels/{channel.pk}/reenable-webhook/",
        f"{app_url(app)}deliveries/{failed.pk}/redeliver/",
    ]:
        response = browser.post(url, {"name": "X", "scopes": [READ]})
        assert response.status_code == 403, url
    assert App.objects.count() == 1
    assert AppToken.objects.filter(app=app, revoked_at__isnull=True).count() == 1
    assert api_status(created.access_token) == 200
    channel.refresh_from_db()
    assert channel.signing_secret == secret
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.FAILED
    assert not AuditEntry.objects.filter(action__in=["token_revoke", "secret_rotate"]).exists()


# --- The list ---------------------------------------------------------------------------------


def test_the_list_shows_each_app_its_install_state_channels_and_tokens(
    admin_browser: Client,
) -> None:
    creator = user_with_role(RepProfile.Role.ADMIN)
    creator.first_name = "Ada"
    creator.save()
    installed = app_create(
        name="Acme SMS", logo_url="https://bridge.example.com/logo.png", created_by_id=creator.pk
    ).app
    token_create(app=installed, name="second")
    revoked = token_create(app=installed, name="old")[1]
    token_revoke(token=revoked)
    CustomChannelFactory.create_batch(2, app=installed)
    CustomChannelFactory(app=installed, archived=True)
    gone = app_create(name="Gone app").app
    app_redirect_uris_set(app=gone, redirect_uris=[REDIRECT_URI])
    app_uninstall(app=gone)

    html = admin_browser.get(APPS).content.decode()

    row = re.search(rf'data-app-id="{installed.pk}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert "https://bridge.example.com/logo.png" in cells[0]
    assert f'href="{app_url(installed)}"' in cells[1]
    assert "Acme SMS" in cells[1]
    assert "Installed" in cells[2]
    assert "by Ada" in cells[2]
    assert cells[3].strip() == "2"  # the archived channel is not counted
    assert cells[4].strip() == "2"  # the initial token and "second"; "old" is revoked
    gone_row = re.search(rf'data-app-id="{gone.pk}">(.*?)</tr>', html, re.S)
    assert gone_row is not None
    assert "Not installed" in gone_row.group(1)
    assert re.findall(r"<td>(\d+)</td>", gone_row.group(1)) == ["0", "0"]
    assert 'aria-current="page">Apps</a>' in html


def test_the_list_without_apps_explains_them(admin_browser: Client) -> None:
    html = admin_browser.get(APPS).content.decode()
    assert 'data-testid="apps-empty"' in html
    assert "Create app" in html


@pytest.mark.parametrize("rows", [1, 20])
def test_the_list_costs_the_same_queries_for_1_and_20_apps(
    admin_browser: Client, django_assert_num_queries: Any, rows: int
) -> None:
    creator = user_with_role(RepProfile.Role.ADMIN)
    for number in range(rows):
        app = app_create(name=f"App {number}", created_by_id=creator.pk).app
        token_create(app=app, name="more")
        CustomChannelFactory.create_batch(2, app=app)
    admin_browser.get(APPS)  # warm the session

    # session, user, role check, apps (+creator, approver, channel and token counts)
    with django_assert_num_queries(4):
        response = admin_browser.get(APPS)
    assert response.content.decode().count("data-app-id=") == rows


# --- Create app -------------------------------------------------------------------------------


def test_create_app_with_bad_input_shows_each_error_and_stores_nothing(
    admin_browser: Client,
) -> None:
    assert admin_browser.get(f"{APPS}new/").status_code == 200

    blank = post(admin_browser, f"{APPS}new/", {"name": "  ", "logo_url": "not a url"})
    assert blank.status_code == 200
    form = blank.context["form"]
    assert form.errors["name"] == ["This field is required."]
    assert form.errors["logo_url"] == ["Enter a valid URL."]

    # What the form lets through, the service refuses (ftp is a URL, but not http(s)).
    refused = post(
        admin_browser,
        f"{APPS}new/",
        {
            "name": "Acme SMS",
            "logo_url": "ftp://bridge.example.com/logo.png",
            "redirect_uris": "https://ok.example.com/cb\nnot-a-uri",
        },
    )
    assert refused.status_code == 200
    errors = refused.context["form"].errors
    assert errors["logo_url"] == ["must be an absolute http(s) URL"]
    assert errors["redirect_uris"] == ["not-a-uri: must be an absolute http(s) URL"]
    html = refused.content.decode()
    assert "must be an absolute http(s) URL" in html
    assert 'value="Acme SMS"' in html  # what was typed is kept
    assert App.objects.count() == 0
    assert AppToken.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_create_app_shows_the_secrets_once_and_the_token_works(admin_browser: Client) -> None:
    response = post(
        admin_browser,
        f"{APPS}new/",
        {
            "name": "Acme SMS",
            "description": "Text messages",
            "logo_url": "https://bridge.example.com/logo.png",
        },
    )

    app = App.objects.get()
    assert response.status_code == 302
    assert response["Location"] == app_url(app)
    assert app.created_by_id == int(admin_of(admin_browser))
    assert app.is_installed
    assert app.oauth_application is None
    page = admin_browser.get(app_url(app)).content.decode()
    assert "you will not see this again" in page
    assert app.client_id in page
    client_secret, access_token, developer_key = shown_secrets(page)
    assert client_secret == app.client_secret
    assert access_token.startswith("pat-hd-")
    assert developer_key.startswith("dev-hd-")
    assert 'data-copy="secret-1"' in page
    assert "helpdesk/copy.js" in page
    assert api_status(access_token) == 200
    keyed = APIClient().get(f"{API_CHANNELS}?hapikey={developer_key}&appId={app.pk}")
    assert keyed.status_code == 200

    again = admin_browser.get(app_url(app)).content.decode()
    assert shown_secrets(again) == []
    assert "you will not see this again" not in again
    assert client_secret not in again
    assert access_token not in again
    assert app.client_id in again  # not a secret: always shown
    # The session store never held them in plaintext.
    assert access_token not in str(admin_browser.session.items())


def test_create_app_with_redirect_uris_registers_its_oauth_client(admin_browser: Client) -> None:
    post(
        admin_browser,
        f"{APPS}new/",
        {"name": "OAuth app", "redirect_uris": f"{REDIRECT_URI}\n\nhttps://b.example.com/cb\n"},
    )
    app = App.objects.select_related("oauth_application").get()
    assert app.oauth_application is not None
    assert app.oauth_application.redirect_uris == f"{REDIRECT_URI} https://b.example.com/cb"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.APP_CREATE)
    assert entry.changes["redirectUris"] == [REDIRECT_URI, "https://b.example.com/cb"]
    page = admin_browser.get(app_url(app)).content.decode()
    assert "OAuth 2.0 consent page" in page
    assert "Uninstall…" in page


def test_create_app_records_who_created_it_without_secrets(admin_browser: Client) -> None:
    post(admin_browser, f"{APPS}new/", {"name": "Acme SMS"})
    app = App.objects.get()
    secrets = shown_secrets(admin_browser.get(app_url(app)).content.decode())

    created = AuditEntry.objects.get(action=AuditEntry.Action.APP_CREATE)
    assert created.actor_id == int(admin_of(admin_browser))
    assert created.app_id == app.pk
    assert created.target == "Acme SMS"
    initial = AuditEntry.objects.get(action=AuditEntry.Action.TOKEN_CREATE)
    assert initial.actor_id == created.actor_id
    assert initial.changes["tokenName"] == "Initial token"
    for entry in AuditEntry.objects.all():
        for secret in secrets:
            assert secret not in str(entry.changes) + entry.target


def test_set_up_without_an_acting_user_is_not_recorded() -> None:
    """The demo seed and fixtures create apps and tokens with no user: not an admin's change."""
    created = app_create(name="Seeded")
    _, token = token_create(app=created.app, name="seed")
    token_revoke(token=token)
    assert not AuditEntry.objects.exists()


# --- Tokens -----------------------------------------------------------------------------------


def test_create_token_with_bad_input_shows_the_errors_and_stores_nothing(
    admin_browser: Client,
) -> None:
    app = app_create(name="Acme SMS").app
    page = admin_browser.get(f"{app_url(app)}tokens/new/").content.decode()
    assert page.count('type="checkbox"') == 3
    assert page.count("checked") == 3  # every scope by default

    response = post(admin_browser, f"{app_url(app)}tokens/new/", {"name": ""})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "name": ["This field is required."],
        "scopes": ["Choose at least one scope."],
    }
    assert "Choose at least one scope." in response.content.decode()
    assert AppToken.objects.filter(app=app).count() == 1
    assert not AuditEntry.objects.filter(actor__isnull=False).exists()


def test_a_created_token_is_shown_once_works_and_after_revoke_gets_401(
    admin_browser: Client,
) -> None:
    app = app_create(name="Acme SMS").app
    response = post(
        admin_browser,
        f"{app_url(app)}tokens/new/",
        {"name": "Production bridge", "scopes": [READ, WRITE]},
    )
    assert response.status_code == 302
    assert response["Location"] == app_url(app)
    stored = AppToken.objects.get(app=app, name="Production bridge")
    assert stored.scopes == [READ, WRITE]
    assert stored.created_by_id == int(admin_of(admin_browser))

    page = admin_browser.get(app_url(app)).content.decode()
    (token,) = shown_secrets(page)
    assert token.startswith(stored.prefix)
    assert "Access token “Production bridge”" in page
    assert api_status(token) == 200
    assert shown_secrets(admin_browser.get(app_url(app)).content.decode()) == []

    confirm = admin_browser.get(f"{app_url(app)}tokens/{stored.pk}/revoke/").content.decode()
    assert "Revoke the token “Production bridge”?" in confirm
    assert api_status(token) == 200  # opening the confirmation changes nothing
    revoked = post(admin_browser, f"{app_url(app)}tokens/{stored.pk}/revoke/")

    assert revoked.status_code == 302
    assert api_status(token) == 401
    stored.refresh_from_db()
    assert stored.revoked_at is not None
    row = re.search(rf'data-token-id="{stored.pk}">(.*?)</tr>', admin_browser.get(
        app_url(app)).content.decode(), re.S)  # fmt: skip
    assert row is not None
    assert "Revoked" in row.group(1)
    assert "Revoke…" not in row.group(1)
    actor_id = int(admin_of(admin_browser))
    created, revoked_entry = AuditEntry.objects.filter(
        action__in=["token_create", "token_revoke"], actor_id=actor_id
    ).order_by("id")
    assert created.action == AuditEntry.Action.TOKEN_CREATE
    assert created.changes == {
        "tokenName": "Production bridge",
        "tokenPrefix": stored.prefix,
        "scopes": [READ, WRITE],
    }
    assert revoked_entry.action == AuditEntry.Action.TOKEN_REVOKE
    assert "Production bridge" in revoked_entry.target
    assert token not in str(created.changes) + str(revoked_entry.changes)


def test_a_read_only_token_reads_but_cannot_write(admin_browser: Client) -> None:
    app = app_create(name="Acme SMS").app
    post(admin_browser, f"{app_url(app)}tokens/new/", {"name": "reader", "scopes": [READ]})
    (token,) = shown_secrets(admin_browser.get(app_url(app)).content.decode())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get(API_CHANNELS).status_code == 200
    written = client.post(API_CHANNELS, {"name": "SMS", "capabilities": {}}, format="json")
    assert written.status_code == 403


def test_revoking_twice_records_one_entry(admin_browser: Client) -> None:
    app = app_create(name="Acme SMS").app
    token = AppToken.objects.get(app=app)
    post(admin_browser, f"{app_url(app)}tokens/{token.pk}/revoke/")
    post(admin_browser, f"{app_url(app)}tokens/{token.pk}/revoke/")
    assert AuditEntry.objects.filter(action=AuditEntry.Action.TOKEN_REVOKE).count() == 1


def test_a_token_of_another_app_is_404(admin_browser: Client) -> None:
    mine = app_create(name="Mine").app
    theirs = AppToken.objects.get(app=app_create(name="Theirs").app)
    url = f"{app_url(mine)}tokens/{theirs.pk}/revoke/"
    assert admin_browser.get(url).status_code == 404
    assert post(admin_browser, url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


# --- Uninstall --------------------------------------------------------------------------------


def test_uninstall_revokes_every_token_and_is_recorded(admin_browser: Client) -> None:
    created = app_create(name="Acme SMS")
    app = app_redirect_uris_set(app=created.app, redirect_uris=[REDIRECT_URI])
    second, _ = token_create(app=app, name="second")

    confirm = admin_browser.get(f"{app_url(app)}uninstall/").content.decode()
    assert "Uninstall Acme SMS?" in confirm
    assert 'role="alertdialog"' in confirm
    response = post(admin_browser, f"{app_url(app)}uninstall/")

    assert response.status_code == 302
    app.refresh_from_db()
    assert app.installed_at is None
    assert api_status(created.access_token) == 401
    assert api_status(second) == 401
    assert not AppToken.objects.filter(app=app, revoked_at__isnull=True).exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.APP_UNINSTALL)
    assert entry.actor_id == int(admin_of(admin_browser))
    assert entry.app_id == app.pk
    assert entry.changes == {"installed": False, "tokensRevoked": 2}
    page = admin_browser.get(app_url(app)).content.decode()
    assert "Not installed" in page
    assert "Uninstall…" not in page


def test_an_app_without_oauth_offers_no_uninstall(admin_browser: Client) -> None:
    created = app_create(name="Static only")
    app = created.app
    assert "Uninstall…" not in admin_browser.get(app_url(app)).content.decode()
    response = post(admin_browser, f"{app_url(app)}uninstall/")
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.is_installed
    assert api_status(created.access_token) == 200
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.APP_UNINSTALL).exists()


# --- Channels: signing secret, deliveries, webhook ---------------------------------------------


def test_rotate_shows_the_new_secret_once_and_keeps_the_old_one_signing(
    admin_browser: Client,
) -> None:
    app = app_create(name="Acme SMS").app
    channel = CustomChannelFactory(app=app, name="SMS")
    old = channel.signing_secret
    url = f"{app_url(app)}channels/{channel.pk}/rotate-signing-secret/"
    assert "Rotate signing secret…" in admin_browser.get(app_url(app)).content.decode()
    confirm = admin_browser.get(url).content.decode()
    assert "Rotate the signing secret of SMS?" in confirm
    channel.refresh_from_db()
    assert channel.signing_secret == old  # opening the confirmation changes nothing

    response = post(admin_browser, url)

    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.signing_secret != old
    assert channel.previous_signing_secret == old
    expires = channel.previous_signing_secret_expires_at
    assert expires is not None
    assert abs(expires - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)
    page = admin_browser.get(app_url(app)).content.decode()
    assert shown_secrets(page) == [channel.signing_secret]
    assert "New webhook signing secret of “SMS”" in page
    assert "The previous secret keeps signing" in page
    assert "the previous secret also signs until" in page
    again = admin_browser.get(app_url(app)).content.decode()
    assert channel.signing_secret not in again
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SECRET_ROTATE)
    assert entry.actor_id == int(admin_of(admin_browser))
    assert entry.channel_id == channel.pk
    assert entry.changes["previousSecretValidUntil"] == expires.isoformat()
    assert old not in str(entry.changes)
    assert channel.signing_secret not in str(entry.changes)


def test_rotation_through_the_api_is_recorded_as_the_apps(admin_browser: Client) -> None:
    client = make_app_client()
    channel = CustomChannelFactory(app=client.app)
    response = client.client.post(f"{API_CHANNELS}/{channel.pk}/rotate-signing-secret")
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SECRET_ROTATE)
    assert entry.actor_id is None
    assert entry.changes["by"] == "app"
    assert response.json()["webhookSigningSecret"] not in str(entry.changes)


def test_a_channel_of_another_app_cannot_be_rotated(admin_browser: Client) -> None:
    mine = app_create(name="Mine").app
    theirs = CustomChannelFactory()
    archived = CustomChannelFactory(app=mine, archived=True)
    for channel in (theirs, archived):
        url = f"{app_url(mine)}channels/{channel.pk}/rotate-signing-secret/"
        assert admin_browser.get(url).status_code == 404
        assert post(admin_browser, url).status_code == 404
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.SECRET_ROTATE).exists()


def test_the_app_page_lists_each_channels_recent_deliveries(admin_browser: Client) -> None:
    app = app_create(name="Acme SMS").app
    channel = CustomChannelFactory(app=app, name="SMS")
    failed = delivery(channel)
    next_at = timezone.now() + timedelta(minutes=5)
    pending = delivery(
        channel,
        Delivery.Status.PENDING,
        attempts=2,
        last_status_code=503,
        last_error="The app answered HTTP 503.",
        next_attempt_at=next_at,
    )
    succeeded = delivery(
        channel,
        Delivery.Status.SUCCEEDED,
        attempts=1,
        last_status_code=200,
        last_error="",
        event_type=Delivery.EventType.CHANNEL_ACCOUNT_CREATED,
    )
    cancelled = delivery(channel, Delivery.Status.CANCELLED, attempts=0, last_status_code=None)
    delivery(CustomChannelFactory(), last_error="another app's")

    html = admin_browser.get(app_url(app)).content.decode()

    section = html[html.index(f'id="channel-{channel.pk}"') :]
    ids = [int(found) for found in re.findall(r'data-delivery-id="(\d+)"', section)]
    assert ids == [cancelled.pk, succeeded.pk, pending.pk, failed.pk]  # newest first
    assert "another app&#x27;s" not in html

    def row(item: Delivery) -> str:
        found = re.search(rf'data-delivery-id="{item.pk}"(.*?)</tr>', html, re.S)
        assert found is not None
        return found.group(1)

    assert "Reply" in row(failed)
    assert str(failed.event_id) in row(failed)
    assert "Failed" in row(failed)
    assert "<td>5</td>" in row(failed)
    assert "HTTP 500" in row(failed)
    assert "Gave up after 5 attempts" in row(failed)
    assert "Redeliver" in row(failed)
    assert "Redeliver" in row(cancelled)
    assert "HTTP 503" in row(pending)
    assert next_at.strftime("%Y-%m-%dT%H:%M") in row(pending)
    assert "Redeliver" not in row(pending)
    assert "Account connected" in row(succeeded)
    assert "Redeliver" not in row(succeeded)


def test_the_app_page_shows_at_most_20_deliveries_per_channel(admin_browser: Client) -> None:
    app = app_create(name="Acme SMS").app
    channel = CustomChannelFactory(app=app)
    made = [delivery(channel) for _ in range(25)]
    html = admin_browser.get(app_url(app)).content.decode()
    ids = [int(found) for found in re.findall(r'data-delivery-id="(\d+)"', html)]
    assert ids == [item.pk for item in reversed(made)][:20]


@pytest.mark.parametrize("rows", [1, 20])
def test_the_app_page_costs_the_same_queries_for_1_and_20_rows(
    admin_browser: Client, django_assert_num_queries: Any, rows: int
) -> None:
    app = app_create(name="Acme SMS").app
    creator = user_with_role(RepProfile.Role.ADMIN)
    for number in range(rows):
        token_create(app=app, name=f"token {number}", created_by_id=creator.pk)
    channels = CustomChannelFactory.create_batch(2, app=app)
    for channel in channels:
        for _ in range(rows):
            delivery(channel)
    admin_browser.get(app_url(app))  # warm the session

    # session, user, role check, app (+creator, approver), tokens (+creators), channels,
    # their recent deliveries
    with django_assert_num_queries(7):
        response = admin_browser.get(app_url(app))
    html = response.content.decode()
    assert html.count("data-delivery-id=") == 2 * rows
    assert html.count("data-token-id=") == rows + 1


def test_redeliver_makes_a_failed_delivery_pending_again_with_the_same_event_id(
    admin_browser: Client, django_capture_on_commit_callbacks: Any
) -> None:
    app = app_create(name="Acme SMS").app
    channel = CustomChannelFactory(app=app)
    failed = delivery(channel)
    event_id = failed.event_id

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(admin_browser, f"{app_url(app)}deliveries/{failed.pk}/redeliver/")

    assert response.status_code == 302
    assert response["Location"] == f"{app_url(app)}#channel-{channel.pk}"
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.PENDING
    assert failed.event_id == event_id
    assert failed.attempts == 0
    assert failed.next_attempt_at is not None
    assert len(callbacks) == 1  # a worker is woken after commit
    assert Delivery.objects.count() == 1
    page = admin_browser.get(app_url(app)).content.decode()
    assert "will be sent again" in page


def test_redeliver_while_the_webhook_is_disabled_explains_why_not(admin_browser: Client) -> None:
    app = app_create(name="Acme SMS").app
    channel = CustomChannelFactory(app=app, webhook_disabled_at=timezone.now())
    failed = delivery(channel)
    post(admin_browser, f"{app_url(app)}deliveries/{failed.pk}/redeliver/")
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.FAILED
    page = admin_browser.get(app_url(app)).content.decode()
    assert "Not redelivered: The channel&#x27;s webhook is disabled; re-enable it first." in page


def test_a_delivery_of_another_app_cannot_be_redelivered(admin_browser: Client) -> None:
    mine = app_create(name="Mine").app
    theirs = delivery(CustomChannelFactory(app=AppFactory()))
    response = post(admin_browser, f"{app_url(mine)}deliveries/{theirs.pk}/redeliver/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Delivery.Status.FAILED


def test_re_enable_turns_a_disabled_webhook_back_on(
    admin_browser: Client, django_capture_on_commit_callbacks: Any
) -> None:
    app = app_create(name="Acme SMS").app
    enabled = CustomChannelFactory(app=app, name="On")
    disabled = CustomChannelFactory(app=app, name="Off", webhook_disabled_at=timezone.now())
    page = admin_browser.get(app_url(app)).content.decode()
    assert page.count('data-testid="webhook-disabled"') == 1
    assert f"channels/{disabled.pk}/reenable-webhook/" in page
    assert f"channels/{enabled.pk}/reenable-webhook/" not in page

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(admin_browser, f"{app_url(app)}channels/{disabled.pk}/reenable-webhook/")

    assert response.status_code == 302
    disabled.refresh_from_db()
    assert disabled.webhook_disabled_at is None
    assert len(callbacks) == 1  # pending deliveries go out again
    after = admin_browser.get(app_url(app)).content.decode()
    assert 'data-testid="webhook-disabled"' not in after
    assert "is enabled again" in after
    assert (
        admin_browser.get(f"{app_url(app)}channels/{disabled.pk}/reenable-webhook/").status_code
        == 405
    )


# --- The audit log ----------------------------------------------------------------------------


def test_the_audit_log_lists_and_filters_the_apps_changes(admin_browser: Client) -> None:
    post(admin_browser, f"{APPS}new/", {"name": "Acme SMS", "redirect_uris": REDIRECT_URI})
    app = App.objects.get()
    channel = CustomChannelFactory(app=app, name="SMS")
    post(admin_browser, f"{app_url(app)}tokens/new/", {"name": "CI", "scopes": [READ]})
    token = AppToken.objects.get(name="CI")
    post(admin_browser, f"{app_url(app)}tokens/{token.pk}/revoke/")
    post(admin_browser, f"{app_url(app)}channels/{channel.pk}/rotate-signing-secret/")
    post(admin_browser, f"{app_url(app)}uninstall/")

    html = admin_browser.get(AUDIT_LOG).content.decode()

    labels = [
        "App uninstalled",
        "Signing secret rotated",
        "Token revoked",
        "Token created",
        "App created",
    ]
    positions = [html.index(f"<td>{label}</td>") for label in labels]
    assert positions == sorted(positions)
    for value, label in [
        ("app_create", "App created"),
        ("app_uninstall", "App uninstalled"),
        ("token_create", "Token created"),
        ("token_revoke", "Token revoked"),
        ("secret_rotate", "Signing secret rotated"),
    ]:
        assert f'<option value="{value}">{label}</option>' in html
    revokes = admin_browser.get(f"{AUDIT_LOG}?action=token_revoke").content.decode()
    assert revokes.count("<tr data-action=") == 1
    assert "Acme SMS · token “CI”" in revokes
    creates = admin_browser.get(f"{AUDIT_LOG}?action=token_create").content.decode()
    assert creates.count("<tr data-action=") == 2  # the initial token and "CI"
    rotations = admin_browser.get(f"{AUDIT_LOG}?channel={channel.pk}").content.decode()
    assert rotations.count("<tr data-action=") == 1
    assert 'data-action="secret_rotate"' in rotations
    channel.refresh_from_db()
    assert channel.signing_secret not in html
    assert channel.previous_signing_secret not in html
