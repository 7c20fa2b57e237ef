"""What the demo app remembers: its registration on disk, the conversations in memory."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_STATE_PATH = Path(__file__).resolve().parent / "state.json"
SEEN_EVENTS_KEPT = 1000


@dataclass
class OAuthTokens:
    """What an OAuth install gave the app (OAuth mode only): the access token, valid until
    ``expires_at`` (Unix time), and the refresh token, replaced by a new one on every refresh."""

    helpdesk_url: str
    client_id: str
    access_token: str
    refresh_token: str
    expires_at: float
    scope: str = ""
    installed_at: float = 0.0
    refreshed_at: float = 0.0
    refreshes: int = 0

    @classmethod
    def from_json(cls, data: Any) -> OAuthTokens | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})
        except TypeError:  # a required key is missing
            return None


@dataclass
class Registration:
    """The channel this app registered (and, in OAuth mode, its tokens); saved so that a
    restart reuses them (JSON file)."""

    helpdesk_url: str = ""
    channel_id: str = ""
    account_id: str = ""
    signing_secret: str = ""
    webhook_url: str = ""
    customers: dict[str, str] = field(default_factory=dict)  # customer id -> name
    oauth: OAuthTokens | None = None

    @classmethod
    def load(cls, path: Path) -> Registration:
        """The saved registration, or an empty one when the file is missing or unreadable."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        known["oauth"] = OAuthTokens.from_json(data.get("oauth"))
        return cls(**known)

    def save(self, path: Path) -> None:
        """Writes atomically (temporary file + rename), readable by the owner only."""
        temporary = path.with_suffix(".tmp")
        # Created owner-only: in OAuth mode the file holds the tokens.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(asdict(self), indent=2))
        os.chmod(temporary, 0o600)  # a leftover temporary file keeps its own mode
        temporary.replace(path)


@dataclass
class Entry:
    """One message of a conversation, as the page shows it."""

    id: str
    direction: str  # "INCOMING" (typed by the customer) or "OUTGOING" (a rep's reply)
    text: str
    author: str
    attachments: list[dict[str, Any]]
    created_at: str
    status: str = ""
    shown: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Conversations:
    """Messages per customer id, the webhook events received, and ``webhook-id`` dedupe.

    Thread-safe: the web server answers the page and the help desk's webhooks in threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, list[Entry]] = {}
        self._seen_event_ids: dict[str, float] = {}
        self.events: list[dict[str, Any]] = []

    def add(self, customer_id: str, entry: Entry) -> bool:
        """Adds a message unless one with its id is there already; returns whether it was new."""
        with self._lock:
            entries = self._messages.setdefault(customer_id, [])
            if any(existing.id == entry.id for existing in entries):
                return False
            entries.append(entry)
            return True

    def messages(self, customer_id: str) -> list[Entry]:
        with self._lock:
            return list(self._messages.get(customer_id, []))

    def unread_counts(self) -> dict[str, int]:
        """Replies not yet shown, per customer."""
        with self._lock:
            return {
                customer_id: sum(1 for e in entries if e.direction == "OUTGOING" and not e.shown)
                for customer_id, entries in self._messages.items()
            }

    def mark_shown(self, message_ids: set[str]) -> list[Entry]:
        """Marks replies shown; returns those that were not shown before (to report READ once)."""
        newly: list[Entry] = []
        with self._lock:
            for entries in self._messages.values():
                for entry in entries:
                    if (
                        entry.id in message_ids
                        and entry.direction == "OUTGOING"
                        and not entry.shown
                    ):
                        entry.shown = True
                        newly.append(entry)
        return newly

    def first_delivery(self, event_id: str) -> bool:
        """True the first time a ``webhook-id`` arrives; retries and redeliveries return False."""
        with self._lock:
            if event_id in self._seen_event_ids:
                return False
            self._seen_event_ids[event_id] = time.time()
            if len(self._seen_event_ids) > SEEN_EVENTS_KEPT:
                oldest = min(self._seen_event_ids, key=self._seen_event_ids.__getitem__)
                del self._seen_event_ids[oldest]
            return True

    def record_event(self, event: dict[str, Any]) -> None:
        """Keeps account events (and a summary of the others) for the page's event log."""
        with self._lock:
            self.events.append(event)
            del self.events[:-50]

    def recent_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)
