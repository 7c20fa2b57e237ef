"""The app served through a real ASGI server, websockets included, for page tests.

``asgi_live_server`` runs uvicorn (with wsproto) on ``helpdesk.asgi.application`` in a thread
of the test process, on a free port of 127.0.0.1; ``.url`` is ``http://localhost:<port>``, the
host of pytest-django's ``live_server``, so the ``sign_in`` fixture's session cookie works on
both. ``stop()`` and ``start()`` take the server down and bring it back on the same port (a
page's websocket drops and reconnects).

The database, as Django's own live server shares it:

- SQLite's in-memory test database exists only through the test's connection. While the
  server runs, every thread uses that one connection (Django's ASGI handler runs each request
  in a thread of its own, Channels' consumers in another). One connection is one transaction
  state, so the server handles one database user at a time: each HTTP request whole, and each
  websocket message until the consumer is done with it (it asks for the next one). A test that
  uses the ORM while pages may be talking to the server wraps that in
  ``with asgi_live_server.exclusive():``.
- PostgreSQL: the server's threads open their own connections to the test database (tests
  are transactional, so they see what the test committed); they close after each request or
  consumer call, so none is left when the test database is dropped.

The channel layer gets a fresh prefix per test (Redis is shared by xdist workers and runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import pytest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class _SharedConnections:
    """Stands in for ``django.db.connections._connections`` (per-thread storage) so that every
    thread gets the shared in-memory SQLite connection for its alias, as Django's live server
    hands its threads that connection."""

    def __init__(self, original: Any, shared: dict[str, Any]) -> None:
        object.__setattr__(self, "_original", original)
        object.__setattr__(self, "_shared", shared)

    def __getattr__(self, alias: str) -> Any:
        shared = object.__getattribute__(self, "_shared")
        if alias in shared:
            return shared[alias]
        return getattr(object.__getattribute__(self, "_original"), alias)

    def __setattr__(self, alias: str, value: Any) -> None:
        shared = object.__getattribute__(self, "_shared")
        if alias in shared:
            return  # the shared connection stays (LiveServerThread sets it again: a no-op)
        setattr(object.__getattribute__(self, "_original"), alias, value)

    def __delattr__(self, alias: str) -> None:
        if alias not in object.__getattribute__(self, "_shared"):
            delattr(object.__getattribute__(self, "_original"), alias)


class _OneDatabaseUserAtATime:
    """ASGI middleware: one request, or one websocket message's handling, at a time."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.lock: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lock is None:
            self.lock = asyncio.Lock()
        lock = self.lock
        if scope["type"] != "websocket":
            async with lock:
                await self.app(scope, receive, send)
            return
        # Held from the start: the auth middleware reads the session before the consumer asks
        # for its first message.
        await lock.acquire()
        holding = True

        async def receive_one() -> Message:
            nonlocal holding
            if holding:  # the consumer is done with the previous message
                holding = False
                lock.release()
            message = await receive()
            await lock.acquire()
            holding = True
            return message

        try:
            await self.app(scope, receive_one, send)
        finally:
            if holding:
                lock.release()


class AsgiLiveServer:
    """uvicorn in a thread; ``url``, ``start()``, ``stop()``, ``exclusive()``."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        from helpdesk.asgi import application

        self.app = _OneDatabaseUserAtATime(application)
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            ws="wsproto",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self.app.lock = None  # an asyncio lock belongs to one loop: each start has its own
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            async def main() -> None:
                self.loop = asyncio.get_running_loop()
                watcher = asyncio.create_task(_signal_when_started(server, ready))
                try:
                    await server.serve(sockets=[sock])
                finally:
                    watcher.cancel()

            try:
                asyncio.run(main())
            except BaseException as error:  # reported to the test thread
                failure.append(error)
            finally:
                ready.set()
                sock.close()

        self._server = server
        self._thread = threading.Thread(target=serve, name="asgi-live-server", daemon=True)
        self._thread.start()
        if not ready.wait(15) or failure or not server.started:
            self.stop()
            raise RuntimeError(f"The ASGI test server did not start: {failure!r}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self._server = None
        self._thread = None
        self.loop = None

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Holds the server's database turn: use the ORM in the test while pages are live."""
        loop, lock = self.loop, self.app.lock
        if loop is None or lock is None:
            yield
            return
        asyncio.run_coroutine_threadsafe(lock.acquire(), loop).result(10)
        try:
            yield
        finally:
            loop.call_soon_threadsafe(lock.release)


async def _signal_when_started(server: Any, ready: threading.Event) -> None:
    while not server.started:
        await asyncio.sleep(0.02)
    ready.set()


@pytest.fixture
def asgi_live_server(
    transactional_db: None, settings: Any, request: pytest.FixtureRequest
) -> Iterator[AsgiLiveServer]:
    """The app behind uvicorn with websockets (see the module docstring); ``.url``."""
    from django.db import connections

    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if "channels_redis" in layers["default"]["BACKEND"]:
        layers["default"].setdefault("CONFIG", {})["prefix"] = f"test-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layers

    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    original = connections._connections
    conn_max_age = {alias: connections.settings[alias].get("CONN_MAX_AGE") for alias in connections}
    for conn in shared.values():
        conn.inc_thread_sharing()
    connections._connections = _SharedConnections(original, shared)
    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = 0
    server = AsgiLiveServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        connections._connections = original
        for alias, value in conn_max_age.items():
            connections.settings[alias]["CONN_MAX_AGE"] = value
        for conn in shared.values():
            conn.dec_thread_sharing()
