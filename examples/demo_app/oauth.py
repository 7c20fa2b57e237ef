"""OAuth 2.0 as the demo app uses it in OAuth mode, the way a HubSpot public app's bridge does
(API.md "Installing an app (OAuth 2.0)"):

1. ``authorize_url()``: the "Install in the help desk" link, ``/oauth/authorize?client_id=&
   redirect_uri=&scope=&state=``, with a random ``state`` the app keeps (10 minutes, used once);
2. ``complete(query)``: the help desk sends the admin's browser back to the callback with
   ``code`` and ``state``; the state is checked, then the code exchanged at ``/oauth/v1/token``
   (``grant_type=authorization_code``) for an access token (30 minutes) and a refresh token;
3. ``access_token()``: before each API call, a token that is expired or about to expire is
   refreshed first (``grant_type=refresh_token``) and the rotated refresh token stored; a call
   answered 401 refreshes once (``after_unauthorized``).

Refreshes are serialised: the help desk rotates refresh tokens, and one presented twice revokes
the whole chain, so two threads must never refresh with the same token. Every change of the
tokens goes to ``on_change`` (the demo app writes its state file).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import urllib3

from examples.demo_app.client import TIMEOUT, ApiError, error_message
from examples.demo_app.state import OAuthTokens

logger = logging.getLogger("demo_app")

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/v1/token"  # noqa: S105 - a path, not a secret
CALLBACK_PATH = "/oauth/callback"
# What the demo needs: its channels and accounts, files and messages.
SCOPES = ("conversations.custom_channels.read", "conversations.custom_channels.write")
REFRESH_MARGIN_SECONDS = 60  # an access token with less than this left is refreshed first
STATE_LIFETIME_SECONDS = 600
MAX_PENDING_STATES = 20


class InstallError(Exception):
    """The install could not be completed (cancelled, forged or stale state, refused code)."""


class StateMismatch(InstallError):
    """The callback's ``state`` is not one this app issued (forged, replayed or stale)."""


class OAuthSession:
    """The app's OAuth install: the pending ``state`` values, the tokens, and their refresh.

    It is the ``TokenSource`` of the demo app's ``HelpDeskClient`` in OAuth mode.
    """

    def __init__(
        self,
        *,
        helpdesk_url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        tokens: OAuthTokens | None,
        on_change: Callable[[OAuthTokens | None], None],
        scopes: Sequence[str] = SCOPES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.helpdesk_url = helpdesk_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = tuple(scopes)
        self._clock = clock
        self._on_change = on_change
        # Tokens of another help desk or another app (an old state file) are not ours.
        usable = (
            tokens is not None
            and tokens.helpdesk_url == self.helpdesk_url
            and tokens.client_id == client_id
        )
        self.tokens: OAuthTokens | None = tokens if usable else None
        self._pending: dict[str, float] = {}  # state -> when it was issued
        self._lock = threading.Lock()  # one refresh at a time; guards tokens and states
        self._http = urllib3.PoolManager(timeout=TIMEOUT, retries=False)

    @property
    def installed(self) -> bool:
        return self.tokens is not None

    # 1. The install link

    def authorize_url(self) -> str:
        """The consent page's address, with a state kept for 10 minutes (the newest pending
        one is reused, so a page that polls does not mint a state each time)."""
        now = self._clock()
        with self._lock:
            self._forget_stale_states(now)
            state = max(self._pending, key=self._pending.__getitem__, default="")
            if not state or now - self._pending[state] > STATE_LIFETIME_SECONDS / 2:
                state = secrets.token_urlsafe(24)
                self._pending[state] = now
                while len(self._pending) > MAX_PENDING_STATES:
                    del self._pending[min(self._pending, key=self._pending.__getitem__)]
        query = urlencode(
            {
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": " ".join(self.scopes),
                "state": state,
            }
        )
        return f"{self.helpdesk_url}{AUTHORIZE_PATH}?{query}"

    def _forget_stale_states(self, now: float) -> None:
        for state, issued in list(self._pending.items()):
            if now - issued > STATE_LIFETIME_SECONDS:
                del self._pending[state]

    def _state_take(self, state: str) -> bool:
        """Whether ``state`` is one this app issued (and still pending); it is used up."""
        with self._lock:
            self._forget_stale_states(self._clock())
            for pending in list(self._pending):
                if hmac.compare_digest(pending.encode(), state.encode()):
                    del self._pending[pending]
                    return True
        return False

    # 2. The callback

    def complete(self, query: Mapping[str, Sequence[str]]) -> OAuthTokens:
        """Handles ``redirect_uri?code=&state=`` (or ``?error=&state=``): checks the state,
        then exchanges the code. Raises ``InstallError``; nothing is stored then."""
        state = (query.get("state") or [""])[0]
        if not state or not self._state_take(state):
            raise StateMismatch(
                "The state does not match an install started here (or it is older than "
                "10 minutes, or was used already). Nothing was installed: start again from "
                "the demo app's page."
            )
        error = (query.get("error") or [""])[0]
        if error == "access_denied":
            raise InstallError("The admin cancelled the install. Nothing was installed.")
        if error:
            raise InstallError(f"The help desk refused the install: {error}.")
        code = (query.get("code") or [""])[0]
        if not code:
            raise InstallError("The help desk sent no code. Nothing was installed.")
        with self._lock:
            try:
                data = self._token_request(
                    grant_type="authorization_code", code=code, redirect_uri=self.redirect_uri
                )
            except ApiError as failure:
                raise InstallError(f"The help desk refused the code: {failure}") from failure
            now = self._clock()
            self.tokens = OAuthTokens(
                helpdesk_url=self.helpdesk_url,
                client_id=self.client_id,
                access_token=str(data["access_token"]),
                refresh_token=str(data["refresh_token"]),
                expires_at=now + float(data["expires_in"]),
                scope=str(data.get("scope") or " ".join(self.scopes)),
                installed_at=now,
            )
            self._on_change(self.tokens)
            logger.info("Installed with OAuth; the access token lasts %ss.", data["expires_in"])
            return self.tokens

    # 3. Tokens for API calls

    def access_token(self) -> str:
        """The access token for the next call, refreshed first when it expires within a
        minute. Raises ``ApiError`` (401) when the app is not installed (any more)."""
        with self._lock:
            tokens = self._tokens_or_raise()
            if tokens.expires_at - self._clock() < REFRESH_MARGIN_SECONDS:
                tokens = self._refresh(tokens, "it expires")
            return tokens.access_token

    def after_unauthorized(self, used: str) -> bool:
        """A call with ``used`` got 401 (revoked early, or the clocks disagree): refreshes
        once, unless another thread already did. Raises ``ApiError`` when the refresh token
        is refused too (the app was uninstalled): the tokens are dropped."""
        with self._lock:
            tokens = self.tokens
            if tokens is None:
                return False
            if tokens.access_token != used:
                return True  # refreshed meanwhile: retry with the new one
            self._refresh(tokens, "the help desk answered 401")
            return True

    def _tokens_or_raise(self) -> OAuthTokens:
        if self.tokens is None:
            raise ApiError(
                401,
                "The demo app is not installed in the help desk: click "
                "'Install in the help desk' on its page.",
            )
        return self.tokens

    def _refresh(self, tokens: OAuthTokens, reason: str) -> OAuthTokens:
        """Exchanges the refresh token (the lock is held), storing the rotated one."""
        try:
            data = self._token_request(
                grant_type="refresh_token", refresh_token=tokens.refresh_token
            )
        except ApiError as failure:
            if failure.status in (400, 401):
                # invalid_grant: uninstalled, or the chain was revoked. Only a new install helps.
                self.tokens = None
                self._on_change(None)
                raise ApiError(
                    401,
                    f"The help desk refused the refresh token ({failure.message}); "
                    "install the demo app again.",
                ) from failure
            raise
        now = self._clock()
        self.tokens = OAuthTokens(
            helpdesk_url=tokens.helpdesk_url,
            client_id=tokens.client_id,
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            expires_at=now + float(data["expires_in"]),
            scope=str(data.get("scope") or tokens.scope),
            installed_at=tokens.installed_at,
            refreshed_at=now,
            refreshes=tokens.refreshes + 1,
        )
        self._on_change(self.tokens)
        logger.info("Refreshed the access token (%s).", reason)
        return self.tokens

    def _token_request(self, **fields: str) -> dict[str, Any]:
        """POST /oauth/v1/token, form-encoded, with the app's client id and secret."""
        body = urlencode(
            {**fields, "client_id": self.client_id, "client_secret": self._client_secret}
        )
        try:
            response = self._http.request(
                "POST",
                self.helpdesk_url + TOKEN_PATH,
                body=body.encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
            )
        except urllib3.exceptions.HTTPError as error:
            raise ApiError(
                0, f"The help desk at {self.helpdesk_url} is unreachable: {error}"
            ) from error
        if response.status != 200:
            raise ApiError(response.status, error_message(response))
        try:
            data = json.loads(response.data)
            if not (data["access_token"] and data["refresh_token"] and int(data["expires_in"])):
                raise ValueError("empty token")
        except (ValueError, KeyError, TypeError) as error:
            raise ApiError(502, f"The token endpoint answered oddly: {error}") from error
        return dict(data)
