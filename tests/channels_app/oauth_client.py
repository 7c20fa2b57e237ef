"""An external app and an admin's browser, as the OAuth tests drive them over HTTP (API.md
"Installing an app (OAuth 2.0)"). The fixtures are in this folder's ``conftest.py``."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client
from rest_framework.test import APIClient

from channels_app.models import App
from helpdesk.authentication import ALL_SCOPES
from routing.models import RepProfile
from tests.factories import UserFactory

REDIRECT_URI = "https://bridge.example.com/oauth/callback"
READ = "conversations.custom_channels.read"
WRITE = "conversations.custom_channels.write"
CHANNELS = "/conversations/v3/custom-channels"
CHANNEL_BODY = {"name": "SMS", "capabilities": {"allowOutgoingMessages": True}}
ERROR_SHAPE = {"status", "message", "correlationId", "category"}


@dataclass
class OAuthApp:
    """What the app's developer holds: the ids, the client secret and the static token."""

    app: App
    client_id: str
    client_secret: str
    static_token: str


def user_with_role(role: str) -> Any:
    user = UserFactory()
    user.save()  # the factory sets the password after saving; sessions hash the stored one
    RepProfile.objects.create(user=user, role=role)
    return user


class _FormInputs(HTMLParser):
    """The consent form's inputs, as a browser submits them."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.values[str(attributes["name"])] = attributes.get("value") or ""


def form_inputs(html: str) -> dict[str, str]:
    parser = _FormInputs()
    parser.feed(html)
    return parser.values


def authorize_url(oauth: OAuthApp, **overrides: str | None) -> str:
    """HubSpot's install URL: client_id, redirect_uri, scope, state (no response_type)."""
    params: dict[str, str | None] = {
        "client_id": oauth.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": " ".join(ALL_SCOPES),
        "state": "opaque-state-123",
    }
    params.update(overrides)
    return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def consent_page(browser: Client, url: str) -> Any:
    """GETs the consent page, following our own redirect that adds response_type=code."""
    page = browser.get(url)
    if page.status_code == 302 and page["Location"].startswith("/oauth/authorize?"):
        page = browser.get(page["Location"])
    return page


def approve(browser: Client, oauth: OAuthApp, **overrides: str | None) -> dict[str, list[str]]:
    """The admin approves the consent page; returns the query of the app's redirect URI."""
    page = consent_page(browser, authorize_url(oauth, **overrides))
    assert page.status_code == 200, page.content
    submitted = browser.post(
        "/oauth/authorize", {**form_inputs(page.content.decode()), "allow": "Approve"}
    )
    assert submitted.status_code == 302
    location = urlsplit(submitted["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return parse_qs(location.query)


def token_request(**fields: str) -> Any:
    """POST /oauth/v1/token, form-encoded, as HubSpot's clients send it."""
    return Client().post(
        "/oauth/v1/token", urlencode(fields), content_type="application/x-www-form-urlencoded"
    )


def exchange(oauth: OAuthApp, code: str) -> Any:
    return token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
    )


def refresh(oauth: OAuthApp, refresh_token: str) -> Any:
    return token_request(
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
    )


def install(browser: Client, oauth: OAuthApp, **overrides: str | None) -> dict[str, Any]:
    """Consent, then code exchange: the token response."""
    code = approve(browser, oauth, **overrides)["code"][0]
    response = exchange(oauth, code)
    assert response.status_code == 200, response.content
    return dict(response.json())


def api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_token_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert set(body) >= ERROR_SHAPE
    assert body["status"] == "error"
