"""The demo app (examples/demo_app) in OAuth mode against a real help desk, over real HTTP.

The help desk runs in pytest-django's live server; the demo app runs its own server on a free
port with only the app's client id and secret. An admin's browser (an HTTP client holding the
admin's session cookie, or chromium for the page test) approves the consent page; the demo
app's callback exchanges the code, registers its channel, and keeps its tokens fresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import urllib3
from django.conf import settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant

from channels_app.installs import app_redirect_uris_set, app_uninstall
from channels_app.models import App, ChannelAccount, CustomChannel
from channels_app.services import app_create
from examples.demo_app.__main__ import DEFAULT_OAUTH_STATE_PATH, config_from_args
from examples.demo_app.oauth import SCOPES
from examples.demo_app.server import CHANNEL_NAME, Config, DemoApp
from examples.demo_app.state import DEFAULT_STATE_PATH
from routing.models import RepProfile
from tests.channels_app.oauth_client import form_inputs, user_with_role
from tests.examples.test_demo_app import call, wait_until
from tickets.models import Message, MessageDirection

http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=30), retries=False)
REDIRECTS = (301, 302, 303, 307, 308)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Browser:
    """A browser over real HTTP, as far as these tests need one: cookies, form posts, redirects
    followed by hand (so each hop can be checked)."""

    def __init__(self, cookies: dict[str, str] | None = None) -> None:
        self.cookies = dict(cookies or {})

    def request(
        self, method: str, url: str, form: dict[str, str] | None = None
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = http.request(method, url, body=body, headers=headers, redirect=False)
        for header in response.headers.getlist("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            self.cookies.update({name: morsel.value for name, morsel in jar.items()})
        return response

    def get(self, url: str) -> tuple[urllib3.BaseHTTPResponse, str]:
        """GETs ``url``, following redirects; returns the last answer and its URL."""
        for _ in range(10):
            response = self.request("GET", url)
            if response.status not in REDIRECTS:
                return response, url
            url = urljoin(url, response.headers["Location"])
        raise AssertionError("too many redirects")


@pytest.fixture
def admin() -> Any:
    return user_with_role(RepProfile.Role.ADMIN)


@pytest.fixture
def admin_browser(admin: Any, live_server: Any) -> Browser:
    """The admin's browser, signed in to the help desk (a session cookie, as after sign-in)."""
    client = Client()
    client.force_login(admin)
    return Browser(
        {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    )


@pytest.fixture
def oauth_app(live_server: Any) -> App:
    """The demo app's registration in the help desk (create_app); its redirect URI is set once
    the demo app listens (the port is chosen then)."""
    return app_create(name="Demo app").app


def demo_config(app: App, live_server: Any, state_path: Path) -> Config:
    """OAuth mode: the client id and secret, no static token."""
    return Config(
        helpdesk_url=live_server.url,
        token="",
        client_secret=app.client_secret,
        client_id=app.client_id,
        port=0,
        state_path=state_path,
    )


@pytest.fixture
def demo(oauth_app: App, live_server: Any, tmp_path: Path) -> Iterator[DemoApp]:
    app = DemoApp(demo_config(oauth_app, live_server, tmp_path / "state.json"))
    app_redirect_uris_set(app=oauth_app, redirect_uris=[app.redirect_uri])
    app.start()
    yield app
    app.stop()


def install_url(demo: DemoApp) -> str:
    status, state = call(demo, "GET", "/api/state")
    assert status == 200
    return str(state["auth"]["installUrl"])


def consent(browser: Browser, url: str, *, allow: bool = True) -> str:
    """The admin opens the install link, sees the consent page and approves (or cancels);
    returns where the help desk sends the browser back to."""
    page, page_url = browser.get(url)
    assert page.status == 200, page.data
    assert urlsplit(page_url).path == "/oauth/authorize"
    html = page.data.decode()
    assert "Install Demo app?" in html
    form = form_inputs(html)
    if allow:
        form["allow"] = "Approve"
    answer = browser.request("POST", urljoin(page_url, "/oauth/authorize"), form)
    assert answer.status == 302, answer.data
    return str(answer.headers["Location"])


def install(demo: DemoApp, browser: Browser) -> None:
    """The whole install: link, consent, the callback, back on the demo app's page."""
    landed, url = browser.get(consent(browser, install_url(demo)))
    assert (landed.status, url) == (200, demo.url + "/"), landed.data


def token_post(live_server: Any, app: App, **fields: str) -> tuple[int, dict[str, Any]]:
    """The help desk's token endpoint, as a bridge calls it."""
    response = http.request(
        "POST",
        live_server.url + "/oauth/v1/token",
        body=urlencode(
            {**fields, "client_id": app.client_id, "client_secret": app.client_secret}
        ).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return response.status, json.loads(response.data)


@pytest.mark.django_db(transaction=True)
def test_install_with_oauth_register_write_and_refresh_an_expired_token(
    demo: DemoApp, oauth_app: App, admin: Any, admin_browser: Browser, live_server: Any
) -> None:
    # Before the install: nothing registered; the page offers the install link.
    status, state = call(demo, "GET", "/api/state")
    assert status == 200
    auth = state["auth"]
    assert (auth["mode"], auth["installed"], state["channelId"]) == ("oauth", False, "")
    link = urlsplit(auth["installUrl"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == live_server.url + "/oauth/authorize"
    query = parse_qs(link.query)
    assert query["client_id"] == [oauth_app.client_id]
    assert query["redirect_uri"] == [demo.redirect_uri] == [demo.url + "/oauth/callback"]
    assert query["scope"][0].split() == list(SCOPES)
    assert len(query["state"][0]) >= 32
    assert not CustomChannel.objects.exists()
    status, refused = call(demo, "POST", "/api/messages", {"customerId": "ada", "text": "Hi"})
    assert status == 400
    assert "Install in the help desk" in refused["error"]

    # The admin approves; the help desk sends the browser to the demo app's callback with a
    # code and the same state; the callback exchanges the code, then sends it to the page.
    callback = consent(admin_browser, auth["installUrl"])
    assert callback.startswith(demo.redirect_uri + "?")
    returned = parse_qs(urlsplit(callback).query)
    assert returned["state"] == query["state"]
    landed, url = admin_browser.get(callback)
    assert (landed.status, url) == (200, demo.url + "/")
    assert b"Demo Chat" in landed.data

    # The tokens are in the state file (owner-only), and they are this app's OAuth tokens.
    state_path = demo.config.state_path
    assert stat.S_IMODE(os.stat(state_path).st_mode) == 0o600
    saved = json.loads(state_path.read_text())["oauth"]
    assert saved["client_id"] == oauth_app.client_id
    assert saved["helpdesk_url"] == live_server.url
    assert time.time() + 1700 < saved["expires_at"] < time.time() + 1801
    assert saved["refreshes"] == 0
    access = AccessToken.objects.select_related("application__app").get(
        token_checksum=digest(saved["access_token"])
    )
    assert access.application.app.pk == oauth_app.pk
    assert set(access.scope.split()) == set(SCOPES)
    oauth_app.refresh_from_db()
    assert oauth_app.is_installed
    assert oauth_app.authorized_by_id == admin.pk

    # Then it registered its channel and account with the access token, as today.
    channel = CustomChannel.objects.get()
    assert (channel.app_id, channel.name) == (oauth_app.pk, CHANNEL_NAME)
    assert str(channel.pk) == demo.registration.channel_id
    assert channel.webhook_url == demo.webhook_url
    account = ChannelAccount.objects.get(channel=channel)
    assert account.authorized
    events = wait_until(demo.conversations.recent_events)
    assert [event["type"] for event in events] == ["CHANNEL_ACCOUNT_CREATED"]
    _, state = call(demo, "GET", "/api/state")
    assert state["auth"]["installed"] is True
    assert state["auth"]["refreshes"] == 0
    assert state["channelId"] == str(channel.pk)

    # A customer writes: a ticket.
    status, sent = call(
        demo,
        "POST",
        "/api/messages",
        {"customerId": "ada", "name": "Ada Lovelace", "text": "Where is my parcel?"},
    )
    assert status == 201, sent
    first = Message.objects.select_related("ticket", "thread__contact").get(
        pk=sent["message"]["id"]
    )
    assert first.direction == MessageDirection.INCOMING
    assert first.ticket is not None
    assert first.ticket.channel_account_id == account.pk
    assert first.thread.contact.name == "Ada Lovelace"

    # The access token expires: the stored expiry is put in the past, and the demo app starts
    # again from its state file. Its next call refreshes first.
    demo.stop()
    stored = json.loads(state_path.read_text())
    old = dict(stored["oauth"])
    stored["oauth"]["expires_at"] = time.time() - 5
    state_path.write_text(json.dumps(stored))
    again = DemoApp(demo_config(oauth_app, live_server, state_path))
    again.start()
    try:
        assert again.registration.channel_id == str(channel.pk)
        assert CustomChannel.objects.count() == 1
        tokens = again.oauth.tokens if again.oauth else None
        assert tokens is not None
        assert tokens.refreshes == 1
        assert tokens.refresh_token != old["refresh_token"]
        assert tokens.access_token != old["access_token"]
        renewed = json.loads(state_path.read_text())["oauth"]
        assert renewed["refresh_token"] == tokens.refresh_token  # the rotated one is kept
        assert renewed["expires_at"] > time.time() + 1700
        assert AccessToken.objects.filter(token_checksum=digest(tokens.access_token)).exists()
        assert not AccessToken.objects.filter(token_checksum=digest(old["access_token"])).exists()

        status, sent = call(
            again,
            "POST",
            "/api/messages",
            {"customerId": "ada", "name": "Ada Lovelace", "text": "Still waiting."},
        )
        assert status == 201, sent
        assert Message.objects.get(pk=sent["message"]["id"]).ticket_id == first.ticket_id
        _, state = call(again, "GET", "/api/state")
        assert state["auth"]["refreshes"] == 1
        assert state["auth"]["refreshedAt"]

        # The refresh token used for the refresh no longer works.
        status, body = token_post(
            live_server, oauth_app, grant_type="refresh_token", refresh_token=old["refresh_token"]
        )
        assert (status, body["error"]) == (400, "invalid_grant")
    finally:
        again.stop()


@pytest.mark.django_db(transaction=True)
def test_a_401_refreshes_once_and_an_uninstall_asks_for_a_new_install(
    demo: DemoApp, oauth_app: App, admin_browser: Browser
) -> None:
    install(demo, admin_browser)
    assert demo.oauth is not None
    assert demo.oauth.tokens is not None
    channel_id = demo.registration.channel_id
    before = demo.oauth.tokens

    # The help desk considers the access token expired while the app thinks it has 30 minutes
    # (clocks disagree): the call gets 401, the app refreshes once and retries.
    AccessToken.objects.filter(token_checksum=digest(before.access_token)).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    status, sent = call(demo, "POST", "/api/messages", {"customerId": "bo", "text": "Hello"})
    assert status == 201, sent
    after = demo.oauth.tokens
    assert after is not None
    assert after.refreshes == 1
    assert after.refresh_token != before.refresh_token
    assert json.loads(demo.config.state_path.read_text())["oauth"]["refresh_token"] == (
        after.refresh_token
    )

    # Uninstalled: the 401 is followed by one refresh, which is refused too; the app drops its
    # tokens and its page offers the install again.
    app_uninstall(app=oauth_app)
    status, failed = call(demo, "POST", "/api/messages", {"customerId": "bo", "text": "Again"})
    assert status == 502
    assert "install the demo app again" in failed["error"]
    _, state = call(demo, "GET", "/api/state")
    assert state["auth"]["installed"] is False
    assert state["auth"]["installUrl"].startswith(demo.config.helpdesk_url + "/oauth/authorize?")
    assert json.loads(demo.config.state_path.read_text())["oauth"] is None
    assert Message.objects.count() == 1

    # Installing again keeps the same channel and account.
    install(demo, admin_browser)
    assert demo.registration.channel_id == channel_id
    assert CustomChannel.objects.count() == 1
    status, sent = call(demo, "POST", "/api/messages", {"customerId": "bo", "text": "Back"})
    assert status == 201, sent


@pytest.mark.django_db(transaction=True)
def test_the_callback_checks_the_state_before_using_the_code(
    demo: DemoApp, admin_browser: Browser
) -> None:
    # A forged callback: refused without asking the help desk anything.
    response = http.request("GET", demo.redirect_uri + "?code=stolen&state=forged")
    assert response.status == 400
    assert b"state does not match" in response.data

    # The admin approves a link whose state was not issued by the demo app: the code it gets
    # back is never exchanged.
    forged = install_url(demo).replace("state=", "state=x")
    answer, url = admin_browser.get(consent(admin_browser, forged))
    assert answer.status == 400
    assert url.startswith(demo.redirect_uri)
    assert Grant.objects.count() == 1
    assert not AccessToken.objects.exists()

    # The admin cancels: nothing installed, and the page says so.
    answer, _ = admin_browser.get(consent(admin_browser, install_url(demo), allow=False))
    assert answer.status == 400
    assert b"cancelled" in answer.data
    _, state = call(demo, "GET", "/api/state")
    assert state["auth"]["installed"] is False
    assert "cancelled" in state["auth"]["error"]
    assert not CustomChannel.objects.exists()

    # A real install; its callback cannot be replayed (the state was used once).
    callback = consent(admin_browser, install_url(demo))
    assert admin_browser.get(callback)[0].status == 200
    assert AccessToken.objects.count() == 1
    assert http.request("GET", callback).status == 400
    assert AccessToken.objects.count() == 1
    _, state = call(demo, "GET", "/api/state")
    assert (state["auth"]["installed"], state["auth"]["error"]) == (True, "")


@pytest.mark.django_db(transaction=True)
def test_install_from_the_demo_page_in_a_browser(
    demo: DemoApp, admin: Any, page: Any, sign_in: Any, screenshot: Any
) -> None:
    from playwright.sync_api import expect

    sign_in(admin)
    page.goto(demo.url + "/")
    status = page.locator("#install")
    expect(status).to_contain_text("Not installed in the help desk yet")
    screenshot(page, "demo-app-oauth-1-not-installed")

    page.get_by_role("link", name="Install in the help desk").click()
    expect(page.get_by_role("heading", name="Install Demo app?")).to_be_visible()
    screenshot(page, "demo-app-oauth-2-consent")
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url(demo.url + "/")
    expect(status).to_contain_text("Installed with OAuth")
    expect(status).to_contain_text("Access token valid until")
    expect(page.locator("#where")).to_contain_text(f"channel {demo.registration.channel_id}")
    screenshot(page, "demo-app-oauth-3-installed")
    assert CustomChannel.objects.get().name == CHANNEL_NAME


def test_the_command_line_chooses_static_or_oauth(tmp_path: Path) -> None:
    created = tmp_path / "credentials.json"  # create_app --json --redirect-uri ...
    created.write_text(
        json.dumps({"accessToken": "tok", "clientSecret": "sec", "clientId": "cid", "appId": "1"})
    )
    static = config_from_args(["--credentials", str(created)])
    assert isinstance(static, Config)
    assert (static.oauth, static.token, static.client_id) == (False, "tok", "")
    assert static.state_path == DEFAULT_STATE_PATH

    oauth = config_from_args(["--credentials", str(created), "--oauth", "--port", "8002"])
    assert isinstance(oauth, Config)
    assert (oauth.oauth, oauth.token, oauth.client_id, oauth.client_secret) == (
        True,
        "",
        "cid",
        "sec",
    )
    assert (oauth.port, oauth.state_path) == (8002, DEFAULT_OAUTH_STATE_PATH)

    # A file with a client id and secret and no token means OAuth.
    client_only = tmp_path / "oauth.json"
    client_only.write_text(json.dumps({"client_id": "cid", "client_secret": "sec"}))
    implied = config_from_args(["--credentials", str(client_only)])
    assert isinstance(implied, Config)
    assert implied.oauth

    missing = config_from_args(["--oauth", "--client-secret", "sec"])
    assert isinstance(missing, str)
    assert "--redirect-uri http://127.0.0.1:8001/oauth/callback" in missing
