"""The demo app's web server: the page, its JSON endpoints, and the help desk's webhook.

Routes (all on one ``ThreadingHTTPServer``):

- ``GET /``: the page (``page.html``), which polls ``GET /api/state`` every second;
- ``POST /api/customers`` ``{id, name}``: adds a customer;
- ``POST /api/messages`` ``{customerId, name, text, attachment?: {name, type, data}}``
  (``data`` base64): uploads the attachment, then posts the customer's INCOMING message;
- ``POST /api/shown`` ``{messageIds}``: the page showed these replies; PATCHes them READ;
- ``POST /webhook``: the help desk's events, both signatures verified (401 otherwise).
"""

from __future__ import annotations

import base64
import binascii
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

from examples.demo_app.client import ApiError, HelpDeskClient
from examples.demo_app.state import DEFAULT_STATE_PATH, Conversations, Entry, Registration
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
    """How to reach the help desk and where to listen (port 0: any free port)."""

    helpdesk_url: str
    token: str
    client_secret: str
    port: int = 8001
    host: str = "127.0.0.1"
    state_path: Path = DEFAULT_STATE_PATH


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
        self.client = HelpDeskClient(config.helpdesk_url, config.token)
        self.registration = Registration.load(config.state_path)
        self.conversations = Conversations()
        self._state_lock = threading.Lock()
        self.server = ThreadingHTTPServer((config.host, config.port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.server.server_address[1]}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhook"

    # Lifecycle

    def start(self) -> None:
        """Serves in a background thread, then registers (the help desk's account event arrives
        while registering, so the server must already answer)."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self.register()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _save(self) -> None:
        with self._state_lock:
            self.registration.save(self.config.state_path)

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
            "channelId": self.registration.channel_id,
            "accountId": self.registration.account_id,
            "customers": [
                {"id": key, "name": name, "unread": unread.get(key, 0)}
                for key, name in sorted(self.registration.customers.items())
            ],
            "messages": [entry.to_json() for entry in self.conversations.messages(customer_id)],
            "events": self.conversations.recent_events()[-10:],
        }

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
