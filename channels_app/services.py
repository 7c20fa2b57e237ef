"""Writes for apps, tokens, custom channels and channel accounts.

Every function here is the only way its state changes; API views, pages, admin actions and
management commands call these.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from channels_app.models import App, AppToken
from helpdesk.authentication import ALL_SCOPES, token_digest

STATIC_TOKEN_PREFIX = "pat-hd-"
DEVELOPER_KEY_PREFIX = "dev-hd-"
SIGNING_SECRET_PREFIX = "whsec_"


def generate_secret(prefix: str = "", nbytes: int = 32) -> str:
    """A random secret of ``nbytes`` bytes (≥128 bits, API.md), URL-safe."""
    return prefix + secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class CreatedApp:
    """The app and the secrets shown once at creation (never readable again, except the client
    secret, which the app's settings page may reveal to an admin)."""

    app: App
    access_token: str
    developer_api_key: str


@transaction.atomic
def app_create(*, name: str, description: str = "", logo_url: str = "", created_by_id: int | None = None) -> CreatedApp:
    """Creates an app with a client secret, a developer API key and one static token."""
    developer_api_key = generate_secret(DEVELOPER_KEY_PREFIX)
    app = App.objects.create(
        name=name,
        description=description,
        logo_url=logo_url,
        client_id=secrets.token_hex(16),
        client_secret=generate_secret(),
        developer_api_key_hash=token_digest(developer_api_key),
        created_by_id=created_by_id,
    )
    access_token, _ = token_create(app=app, name="Initial token", created_by_id=created_by_id)
    return CreatedApp(app=app, access_token=access_token, developer_api_key=developer_api_key)


@transaction.atomic
def token_create(
    *,
    app: App,
    name: str = "",
    scopes: tuple[str, ...] | list[str] = ALL_SCOPES,
    created_by_id: int | None = None,
) -> tuple[str, AppToken]:
    """Issues a static bearer token; returns the plaintext (shown once) and the stored row."""
    plaintext = generate_secret(STATIC_TOKEN_PREFIX)
    token = AppToken.objects.create(
        app=app,
        name=name,
        kind=AppToken.Kind.STATIC,
        token_hash=token_digest(plaintext),
        prefix=plaintext[: len(STATIC_TOKEN_PREFIX) + 4],
        scopes=list(scopes),
        created_by_id=created_by_id,
    )
    return plaintext, token


@transaction.atomic
def token_revoke(*, token: AppToken) -> AppToken:
    """Revokes a token; the next call with it gets 401. Revoking twice changes nothing."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
