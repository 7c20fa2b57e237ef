"""How external apps authenticate: bearer tokens, and HubSpot's developer key on channel APIs.

Tokens are stored as SHA-256 hex digests: they are long random strings, so a fast hash is
enough and lets a lookup by digest use a unique index. A bearer token is either one of our
static tokens (``AppToken``, HubSpot's private-app tokens) or an OAuth 2.0 access token issued
by django-oauth-toolkit, which stores the same SHA-256 digest (``token_checksum``) and no
plaintext (``COMPLIANT_BCP_RFC9700_TOKEN_STORAGE``). Either way only an installed app's token
authenticates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from channels_app.models import App, AppToken

ALL_SCOPES = (
    "conversations.custom_channels.read",
    "conversations.custom_channels.write",
    "conversations.read",
)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OAuthTokenAuth:
    """``request.auth`` for an OAuth access token: the scopes the admin approved."""

    access_token_id: int
    app_id: int
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True)
class DeveloperKeyAuth:
    """``request.auth`` for a ``hapikey`` call: the app's developer key grants channel scopes."""

    app_id: int
    scopes: tuple[str, ...] = field(default=ALL_SCOPES)


class AppTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>``; or ``?hapikey=&appId=`` where the view allows it.

    ``request.user`` becomes the ``App``; ``request.auth`` the ``AppToken`` (or an
    ``OAuthTokenAuth``, a ``DeveloperKeyAuth``), whose ``scopes`` the permission class checks.
    An unknown, expired or revoked token, or a token of an uninstalled app, is 401.
    """

    keyword = "Bearer"

    def authenticate(
        self, request: Request
    ) -> tuple[App, AppToken | OAuthTokenAuth | DeveloperKeyAuth] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").strip()
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise exceptions.AuthenticationFailed(
                    "The Authorization header must be 'Bearer <token>'."
                )
            return self._authenticate_token(token.strip())
        hapikey = request.query_params.get("hapikey")
        view = (request.parser_context or {}).get("view")
        if hapikey is not None and getattr(view, "allow_developer_key", False):
            return self._authenticate_developer_key(hapikey, request.query_params.get("appId"))
        return None

    def _authenticate_token(self, token: str) -> tuple[App, AppToken | OAuthTokenAuth]:
        now = timezone.now()
        digest = token_digest(token)
        # ``get``: a digest is unique, and a lookup without ``first()``'s ORDER BY costs less to
        # build. Every API request makes this query: it is not cached, so a revoked token, an
        # uninstalled app or an expired token is refused from the very next request.
        try:
            app_token = AppToken.objects.select_related("app").get(
                Q(expires_at__isnull=True) | Q(expires_at__gt=now),
                token_hash=digest,
                revoked_at__isnull=True,
                app__installed_at__isnull=False,
            )
        except AppToken.DoesNotExist:
            pass
        else:
            return app_token.app, app_token
        # OAuth access tokens: DOT's checksum is the same SHA-256 hex digest. Revoked tokens
        # are deleted by the library, so a row that is present and unexpired is live.
        access_token = (
            get_access_token_model()
            .objects.select_related("application__app")
            .filter(
                token_checksum=digest,
                expires__gt=now,
                application__app__installed_at__isnull=False,
            )
            .first()
        )
        if access_token is None:
            raise exceptions.AuthenticationFailed(
                "The access token is invalid, expired or revoked."
            )
        app = access_token.application.app
        return app, OAuthTokenAuth(
            access_token_id=access_token.pk,
            app_id=app.pk,
            scopes=tuple(access_token.scope.split()),
            expires_at=access_token.expires,
        )

    def _authenticate_developer_key(
        self, hapikey: str, app_id: str | None
    ) -> tuple[App, DeveloperKeyAuth]:
        apps = App.objects.filter(developer_api_key_hash=token_digest(hapikey))
        if app_id is not None:
            if not app_id.isdigit():
                raise exceptions.AuthenticationFailed("appId must be the app's numeric id.")
            apps = apps.filter(pk=int(app_id))
        app = apps.first()
        if app is None:
            raise exceptions.AuthenticationFailed("The developer API key is invalid.")
        return app, DeveloperKeyAuth(app_id=app.pk)

    def authenticate_header(self, request: Request) -> str:
        # Without this DRF would turn 401 into 403.
        return 'Bearer realm="api"'
