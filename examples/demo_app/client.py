"""The help desk's public API, as the demo app calls it (urllib3, with timeouts)."""

from __future__ import annotations

import json
from typing import Any, Protocol

import urllib3

CHANNELS_PATH = "/conversations/v3/custom-channels"
TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)


class ApiError(Exception):
    """The help desk answered with an error (or not at all); ``status`` is 0 when unreachable."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


def error_message(response: urllib3.BaseHTTPResponse) -> str:
    """The sentence of an error answer: the API's ``message`` (or OAuth's description)."""
    try:
        data = json.loads(response.data)
        message = data.get("message") or data.get("error_description") or response.reason
    except (ValueError, AttributeError):
        message = response.reason or "error"
    return str(message)


class TokenSource(Protocol):
    """Where the bearer token of each call comes from: a static token, or an OAuth install
    (``examples.demo_app.oauth.OAuthSession``), which refreshes it as needed."""

    def access_token(self) -> str:
        """The token for the next call (raises ``ApiError`` when there is none)."""
        ...

    def after_unauthorized(self, used: str) -> bool:
        """A call with ``used`` got 401: returns whether a retry with a new token makes sense."""
        ...


class StaticToken:
    """A static token (``create_app``'s ``accessToken``, HubSpot's private-app token)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def after_unauthorized(self, used: str) -> bool:
        return False  # nothing to refresh: the token was revoked or the database reset


class HelpDeskClient:
    """A thin client for the endpoints the demo needs; every call returns the parsed JSON body.

    ``auth`` is a static token, or a ``TokenSource``; a call answered 401 is retried once when
    the source has a new token (an OAuth refresh).
    """

    def __init__(self, base_url: str, auth: str | TokenSource) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth: TokenSource = StaticToken(auth) if isinstance(auth, str) else auth
        self._http = urllib3.PoolManager(timeout=TIMEOUT, retries=False)

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        fields: dict[str, Any] | None = None,
    ) -> Any:
        token = self._auth.access_token()
        response = self._send(method, path, token, json_body=json_body, fields=fields)
        if response.status == 401 and self._auth.after_unauthorized(token):
            response = self._send(
                method, path, self._auth.access_token(), json_body=json_body, fields=fields
            )
        if response.status >= 400:
            raise ApiError(response.status, error_message(response))
        return json.loads(response.data) if response.data else None

    def _send(
        self,
        method: str,
        path: str,
        token: str,
        *,
        json_body: Any = None,
        fields: dict[str, Any] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            if fields is not None:
                return self._http.request(
                    method, self.base_url + path, fields=fields, headers=headers
                )
            body = None if json_body is None else json.dumps(json_body).encode()
            if body is not None:
                headers["Content-Type"] = "application/json"
            return self._http.request(method, self.base_url + path, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as error:
            raise ApiError(
                0, f"The help desk at {self.base_url} is unreachable: {error}"
            ) from error

    # Channels and accounts

    def channel_create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST a channel; the response carries ``webhookSigningSecret`` (shown only now)."""
        result: dict[str, Any] = self._request("POST", CHANNELS_PATH, json_body=body)
        return result

    def channel_get(self, channel_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"{CHANNELS_PATH}/{channel_id}")
        return result

    def channel_update(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "PATCH", f"{CHANNELS_PATH}/{channel_id}", json_body=body
        )
        return result

    def account_create(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "POST", f"{CHANNELS_PATH}/{channel_id}/channel-accounts", json_body=body
        )
        return result

    # Files and messages

    def file_upload(self, filename: str, content: bytes, content_type: str) -> dict[str, Any]:
        """Uploads an attachment (multipart, field ``file``); returns ``{id, name, size, type, url}``."""
        result: dict[str, Any] = self._request(
            "POST", "/files/v3/files", fields={"file": (filename, content, content_type)}
        )
        return result

    def message_send(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "POST", f"{CHANNELS_PATH}/{channel_id}/messages", json_body=body
        )
        return result

    def message_status_set(self, channel_id: str, message_id: str, status: str) -> dict[str, Any]:
        """PATCHes an outgoing message's status (``SENT``, ``FAILED`` or ``READ``)."""
        result: dict[str, Any] = self._request(
            "PATCH",
            f"{CHANNELS_PATH}/{channel_id}/messages/{message_id}",
            json_body={"statusType": status},
        )
        return result
