"""Fixtures of the OAuth tests (``oauth_client.py`` holds their helpers)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from channels_app.installs import app_redirect_uris_set
from channels_app.services import app_create
from routing.models import RepProfile
from tests.channels_app.oauth_client import REDIRECT_URI, OAuthApp, user_with_role


@pytest.fixture
def fast_password_hasher(settings: Any) -> None:
    """Client secrets and users' passwords are password hashes; PBKDF2 would make each token
    request of these tests cost a second. Production keeps Django's default hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def oauth_app(db: None, fast_password_hasher: None) -> OAuthApp:
    """An app created by an admin (installed, with a static token) that registered a redirect
    URI for OAuth."""
    created = app_create(name="Acme SMS", logo_url="https://bridge.example.com/logo.png")
    client_secret = created.app.client_secret
    app = app_redirect_uris_set(app=created.app, redirect_uris=[REDIRECT_URI])
    return OAuthApp(
        app=app,
        client_id=app.client_id,
        client_secret=client_secret,
        static_token=created.access_token,
    )


@pytest.fixture
def admin_browser(db: None, fast_password_hasher: None) -> Client:
    """A signed-in admin's browser (CSRF checks on, as in a real one)."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user_with_role(RepProfile.Role.ADMIN))
    return browser
