"""The help desk's public API, as the demo app calls it (urllib3, with timeouts)."""

from __future__ import annotations

import json
from typing import Any

import urllib3

CHANNELS_PATH = "/conversations/v3/custom-channels"
TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)


class ApiError(Exception):
    """The help desk answered with an error (or not at all); ``status`` is 0 when unreachable."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


class HelpDeskClient:
    """A thin client for the endpoints the demo needs; every call returns the parsed JSON body."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = urllib3.PoolManager(timeout=TIMEOUT, retries=False)

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        fields: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        try:
            if fields is not None:
                response = self._http.request(
                    method, self.base_url + path, fields=fields, headers=headers
                )
            else:
                body = None if json_body is None else json.dumps(json_body).encode()
                if body is not None:
                    headers["Content-Type"] = "application/json"
                response = self._http.request(
                    method, self.base_url + path, body=body, headers=headers
                )
        except urllib3.exceptions.HTTPError as error:
            raise ApiError(
                0, f"The help desk at {self.base_url} is unreachable: {error}"
            ) from error
        if response.status >= 400:
            try:
                message = json.loads(response.data).get("message") or response.reason
            except (ValueError, AttributeError):
                message = response.reason or "error"
            raise ApiError(response.status, str(message))
        return json.loads(response.data) if response.data else None

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
