"""The demo app's web server: the page, its JSON endpoints, and the help desk's webhook.

Routes (all on one ``ThreadingHTTPServer``):

- ``GET /``: the page (``page.html``), which polls ``GET /api/state`` every second;
- ``POST /api/customers`` ``{id, name}``: adds a customer;
- ``POST /api/messages`` ``{customerId, name, text, attachment?: {name, type, data}}``
  (``data`` base64): uploads the attachment, then posts the customer's INCOMING message;
- ``POST /api/shown`` ``{messageIds}``: the page showed these replies; PATCHes them READ;
- ``POST /webhook``: the help desk's events, both signatures verified (401 otherwise);
- ``GET /oauth/callback?code=&state=`` (OAuth mode): where the help desk's consent page sends
  the admin back; exchanges the code, registers the channel, redirects to the page.

Two ways to reach the help desk: a static token (``Config.token``, HubSpot's private-app
token), or OAuth (``Config.client_id``; ``oauth.py``): the page then offers "Install in the
help desk", and the tokens are kept in the state file and refreshed before they expire.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from examples.demo_app.client import ApiError, HelpDeskClient, StaticToken, TokenSource
from examples.demo_app.oauth import CALLBACK_PATH, InstallError, OAuthSession, StateMismatch
from examples.demo_app.state import (
    DEFAULT_STATE_PATH,
    Conversations,
    Entry,
    OAuthTokens,
    Registration,
)
from examples.webhook_verification import (
    WebhookVerificationError,
    verify_hubspot_v3,
    verify_standard_webhook,
)

logger = logging.getLogger("demo_app")

CHANNEL_NAME = "Demo Chat (demo app)"
ACCOUNT_NAME = "Demo chat line"
LINE_ID = "demo-line"  # the account's own delivery identifier (the "phone" customers write to)
OPAQUE_ID = "CHANNEL_SPECIFIC_OPAQUE_ID"
MAX_BODY_BYTES = 40 * 1024 * 1024  # a 25 MB attachment, base64-encoded, plus the JSON around it
PAGE_PATH = Path(__file__).resolve().parent / "page.html"


def channel_body(webhook_url: str) -> dict[str, Any]:
    """The channel the demo app registers: capabilities and the credential field it asks for."""
    return {
        "name": CHANNEL_NAME,
        "webhookUrl": webhook_url,
        "channelDescription": "The demo bridge from examples/demo_app: type as a customer.",
        "capabilities": {
            "deliveryIdentifierTypes": [OPAQUE_ID, "HS_PHONE_NUMBER"],
            "threadingModel": "DELIVERY_IDENTIFIER",
            "allowOutgoingMessages": True,
            "outgoingAttachmentTypes": ["FILE"],
            "allowedFileAttachmentMimeTypes": ["image/png", "image/jpeg", "application/pdf"],
            "maxFileAttachmentCount": 3,
            "maxFileAttachmentSizeBytes": 5 * 1024 * 1024,
            "maxTotalFileAttachmentSizeBytes": 10 * 1024 * 1024,
        },
        "channelAccountConnectionFields": [
            {
                "name": "apiKey",
                "label": "API key",
                "type": "secret",
                "required": True,
                "helpText": "Any value works in the demo",
            }
        ],
    }


@dataclass
class Config:
    """How to reach the help desk and where to listen (port 0: any free port).

    Static token mode: ``token``. OAuth mode: ``client_id`` (and no token); the redirect URI
    registered for the app must then be ``<the demo app's URL>/oauth/callback``.
    """

    helpdesk_url: str
    token: str
    client_secret: str
    port: int = 8001
    host: str = "127.0.0.1"
    state_path: Path = DEFAULT_STATE_PATH
    client_id: str = ""

    @property
    def oauth(self) -> bool:
        return bool(self.client_id) and not self.token


class UserError(Exception):
    """A request from the page that cannot be served; answered 400 with the message."""


def _entry(message: dict[str, Any], author: str) -> Entry:
    """A message of the API, as the page shows it (text only: rich text is not rendered)."""
    attachments = [
        {"name": item.get("name") or "file", "url": item.get("url") or "", "type": "FILE"}
        for item in message.get("attachments") or []
        if item.get("type") == "FILE"
    ]
    return Entry(
        id=str(message["id"]),
        direction=str(message.get("direction") or ""),
        text=str(message.get("text") or ""),
        author=author,
        attachments=attachments,
        created_at=str(message.get("createdAt") or ""),
        status=str((message.get("status") or {}).get("statusType") or ""),
    )


class DemoApp:
    """The bridge: registration with the help desk, the conversations, and the web server."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.registration = Registration.load(config.state_path)
        self.conversations = Conversations()
        self._state_lock = threading.Lock()
        self.server = ThreadingHTTPServer((config.host, config.port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.install_error = ""  # why the last OAuth install failed, for the page
        self.oauth: OAuthSession | None = None
        auth: TokenSource = StaticToken(config.token)
        if config.oauth:
            self.oauth = auth = OAuthSession(
                helpdesk_url=config.helpdesk_url,
                client_id=config.client_id,
                client_secret=config.client_secret,
                redirect_uri=self.redirect_uri,
                tokens=self.registration.oauth,
                on_change=self._tokens_save,
            )
        self.client = HelpDeskClient(config.helpdesk_url, auth)

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.server.server_address[1]}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook"

    @property
    def redirect_uri(self) -> str:
        """OAuth mode: where the consent page sends the admin back (register it for the app)."""
        return f"{self.url}{CALLBACK_PATH}"

    # Lifecycle

    def start(self) -> None:
        """Serves in a background thread, then registers (the help desk's account event arrives
        while registering, so the server must already answer). In OAuth mode before the
        install, only serves: the page offers the install link, and the callback registers."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        if self.oauth is not None and not self.oauth.installed:
            logger.info(
                "Not installed yet: open %s/ and click 'Install in the help desk'.", self.url
            )
            return
        try:
            self.register()
        except ApiError as error:
            if self.oauth is None or error.status != 401:
                raise
            # The saved tokens were refused (uninstalled): the page offers the install again.
            self.install_error = str(error.message)
            logger.warning("%s", error.message)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _save(self) -> None:
        with self._state_lock:
            self.registration.save(self.config.state_path)

    def _tokens_save(self, tokens: OAuthTokens | None) -> None:
        """OAuth mode: every new token pair (and a dropped one) goes to the state file at once:
        the refresh token just used no longer works, so the new one must not be lost."""
        self.registration.oauth = tokens
        self._save()

    def install_complete(self, query: dict[str, list[str]]) -> None:
        """The OAuth callback: checks the state, exchanges the code, then registers the
        channel (or reuses the saved one). Raises ``InstallError`` with what to tell the admin."""
        if self.oauth is None:
            raise InstallError("This demo app runs with a static token; it needs no install.")
        try:
            self.oauth.complete(query)
        except StateMismatch:
            raise  # anyone can call the callback: a forged one must not change the page
        except InstallError as error:
            self.install_error = str(error)
            raise
        try:
            self.register()
        except ApiError as error:
            self.install_error = f"Installed, but registering the channel failed: {error}"
            raise InstallError(self.install_error) from error
        self.install_error = ""

    def register(self) -> None:
        """Reuses the saved channel when the help desk still has it; otherwise registers a new
        channel (keeping its signing secret) and a channel account on it."""
        saved = self.registration
        if saved.channel_id and saved.helpdesk_url == self.client.base_url:
            try:
                channel = self.client.channel_get(saved.channel_id)
            except ApiError as error:
                if error.status != 404:
                    raise
                logger.info("The saved channel %s is gone; registering anew.", saved.channel_id)
            else:
                if not channel.get("archived") and saved.signing_secret:
                    if channel.get("webhookUrl") != self.webhook_url:
                        self.client.channel_update(
                            saved.channel_id, {"webhookUrl": self.webhook_url}
                        )
                    saved.webhook_url = self.webhook_url
                    if not saved.account_id:
                        self._account_create()
                    self._save()
                    logger.info("Reusing channel %s.", saved.channel_id)
                    return
        created = self.client.channel_create(channel_body(self.webhook_url))
        self.registration = Registration(
            helpdesk_url=self.client.base_url,
            channel_id=str(created["id"]),
            signing_secret=str(created["webhookSigningSecret"]),
            webhook_url=self.webhook_url,
            customers=saved.customers,
            oauth=saved.oauth,
        )
        self._save()
        self._account_create()
        logger.info("Registered channel %s.", self.registration.channel_id)

    def _account_create(self) -> None:
        account = self.client.account_create(
            self.registration.channel_id,
            {
                "name": ACCOUNT_NAME,
                "authorized": True,
                "deliveryIdentifier": {"type": OPAQUE_ID, "value": LINE_ID},
            },
        )
        self.registration.account_id = str(account["id"])
        self._save()

    # What the page asks for

    def customer_add(self, customer_id: str, name: str) -> None:
        customer_id, name = customer_id.strip(), name.strip()
        if not customer_id:
            raise UserError("A customer needs an id.")
        self.registration.customers[customer_id] = name or customer_id
        self._save()

    def state(self, customer_id: str) -> dict[str, Any]:
        """What the page renders: customers (with unread replies), one conversation, events."""
        unread = self.conversations.unread_counts()
        return {
            "helpdesk": self.client.base_url,
            "auth": self.auth_state(),
            "channelId": self.registration.channel_id,
            "accountId": self.registration.account_id,
            "customers": [
                {"id": key, "name": name, "unread": unread.get(key, 0)}
                for key, name in sorted(self.registration.customers.items())
            ],
            "messages": [entry.to_json() for entry in self.conversations.messages(customer_id)],
            "events": self.conversations.recent_events()[-10:],
        }

    def auth_state(self) -> dict[str, Any]:
        """How the app reaches the help desk, for the page: the mode and, in OAuth mode, the
        install state, the install link and when the access token expires."""
        if self.oauth is None:
            return {"mode": "static", "installed": True}
        tokens = self.oauth.tokens
        state: dict[str, Any] = {
            "mode": "oauth",
            "installed": tokens is not None,
            "installUrl": self.oauth.authorize_url(),
            "redirectUri": self.redirect_uri,
            "error": self.install_error,
        }
        if tokens is not None:
            state.update(
                accessTokenExpiresAt=_iso(tokens.expires_at),
                installedAt=_iso(tokens.installed_at),
                refreshedAt=_iso(tokens.refreshed_at) if tokens.refreshed_at else None,
                refreshes=tokens.refreshes,
                scope=tokens.scope,
            )
        return state

    def message_send(
        self,
        customer_id: str,
        name: str,
        text: str,
        attachment: tuple[str, bytes, str] | None = None,
    ) -> Entry:
        """Posts the customer's message (uploading the attachment first) as INCOMING."""
        if not customer_id.strip():
            raise UserError("Choose a customer first.")
        if not text.strip() and attachment is None:
            raise UserError("Type a message or attach a file.")
        if not self.registration.channel_id or not self.registration.account_id:
            raise UserError(
                "The demo app is not registered with the help desk yet"
                + (": click 'Install in the help desk' first." if self.oauth else ".")
            )
        self.customer_add(customer_id, name)
        name = self.registration.customers[customer_id.strip()]
        attachments = []
        if attachment is not None:
            uploaded = self.client.file_upload(*attachment)
            attachments.append({"type": "FILE", "fileId": str(uploaded["id"])})
        message = self.client.message_send(
            self.registration.channel_id,
            {
                "text": text,
                "messageDirection": "INCOMING",
                "channelAccountId": self.registration.account_id,
                "senders": [
                    {
                        "deliveryIdentifier": {"type": OPAQUE_ID, "value": customer_id.strip()},
                        "name": name,
                    }
                ],
                "recipients": [{"deliveryIdentifier": {"type": OPAQUE_ID, "value": LINE_ID}}],
                "attachments": attachments,
                "integrationIdempotencyId": str(uuid.uuid4()),
            },
        )
        entry = _entry(message, author=name)
        self.conversations.add(customer_id.strip(), entry)
        return entry

    def mark_shown(self, message_ids: set[str]) -> list[str]:
        """The page showed these replies: PATCH each one READ (once); returns the ids marked."""
        marked = []
        for entry in self.conversations.mark_shown(message_ids):
            try:
                self.client.message_status_set(self.registration.channel_id, entry.id, "READ")
            except ApiError as error:
                logger.warning("Could not mark reply %s READ: %s", entry.id, error)
                continue
            entry.status = "READ"
            marked.append(entry.id)
        return marked

    # The help desk's webhook

    def webhook_receive(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        """Verifies both signatures, deduplicates on ``webhook-id``, stores the event."""
        registration = self.registration
        if not registration.signing_secret:
            return 503, "not registered yet"
        try:
            event = verify_standard_webhook(
                signing_secret=registration.signing_secret, headers=headers, body=body
            )
            verify_hubspot_v3(
                client_secret=self.config.client_secret,
                method="POST",
                url=registration.webhook_url,
                headers=headers,
                body=body,
            )
        except (WebhookVerificationError, ValueError) as error:
            logger.warning("Rejected a webhook: %s", error)
            return 401, "invalid signature"
        if not isinstance(event, dict):
            return 400, "not an event"
        event_id = {key.lower(): value for key, value in headers.items()}.get("webhook-id", "")
        if not self.conversations.first_delivery(event_id):
            return 200, "duplicate"
        event_type = str(event.get("type") or "")
        self.conversations.record_event(
            {
                "type": event_type,
                "eventId": event_id,
                "receivedAt": time.strftime("%H:%M:%S"),
                "channelAccountId": event.get("channelAccountId"),
                "authorized": event.get("authorized"),
                "active": event.get("active"),
            }
        )
        if event_type == "OUTGOING_CHANNEL_MESSAGE_CREATED":
            self._reply_store(event.get("message") or {})
        return 200, "ok"

    def _reply_store(self, message: dict[str, Any]) -> None:
        senders = message.get("senders") or [{}]
        author = str(senders[0].get("name") or "Support")
        for recipient in message.get("recipients") or []:
            customer_id = str((recipient.get("deliveryIdentifier") or {}).get("value") or "")
            if not customer_id:
                continue
            if customer_id not in self.registration.customers:
                self.customer_add(customer_id, str(recipient.get("name") or customer_id))
            self.conversations.add(customer_id, _entry(message, author=author))


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _install_failed_page(message: str) -> bytes:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Install failed</title>"
        "<h1>The demo app was not installed</h1>"
        f"<p role=alert>{html.escape(message)}</p><p><a href='/'>Back to the demo app</a></p>"
    ).encode()


def _attachment(value: Any) -> tuple[str, bytes, str] | None:
    if not value:
        return None
    try:
        content = base64.b64decode(str(value["data"]), validate=True)
    except (KeyError, TypeError, binascii.Error) as error:
        raise UserError("The attachment could not be read.") from error
    return (
        str(value.get("name") or "attachment"),
        content,
        str(value.get("type") or "application/octet-stream"),
    )


def _handler_for(app: DemoApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "DemoApp/1.0"

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                raise UserError("The request is too large.")
            return self.rfile.read(length)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/":
                self._send(200, PAGE_PATH.read_bytes(), "text/html; charset=utf-8")
            elif url.path == "/api/state":
                customer = parse_qs(url.query).get("customer", [""])[0]
                self._json(200, app.state(customer))
            elif url.path == CALLBACK_PATH:
                try:
                    app.install_complete(parse_qs(url.query))
                except InstallError as error:
                    self._send(400, _install_failed_page(str(error)), "text/html; charset=utf-8")
                    return
                self.send_response(302)
                self.send_header("Location", "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            try:
                body = self._body()
                if path == "/webhook":
                    status, text = app.webhook_receive(dict(self.headers.items()), body)
                    self._send(status, text.encode(), "text/plain")
                    return
                data = json.loads(body or b"{}")
                if not isinstance(data, dict):
                    raise UserError("Send a JSON object.")
                if path == "/api/customers":
                    app.customer_add(str(data.get("id") or ""), str(data.get("name") or ""))
                    self._json(201, {"ok": True})
                elif path == "/api/messages":
                    entry = app.message_send(
                        str(data.get("customerId") or ""),
                        str(data.get("name") or ""),
                        str(data.get("text") or ""),
                        _attachment(data.get("attachment")),
                    )
                    self._json(201, {"message": entry.to_json()})
                elif path == "/api/shown":
                    ids = {str(item) for item in data.get("messageIds") or []}
                    self._json(200, {"read": app.mark_shown(ids)})
                else:
                    self._json(404, {"error": "not found"})
            except (UserError, ValueError) as error:
                self._json(400, {"error": str(error)})
            except ApiError as error:
                self._json(502, {"error": f"The help desk refused: {error}"})

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s %s", self.address_string(), format % args)

    return Handler
