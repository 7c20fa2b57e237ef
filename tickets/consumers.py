"""The inbox's websocket (``/ws/inbox/``): live events to a signed-in rep's open pages (I8).

Thin: it authenticates (the session, through ``AuthMiddlewareStack``), joins the groups
``inbox`` and ``user-<id>`` and forwards what ``tickets.live`` sends them. An open connection
counts as the rep being online for routing (``presence_connect`` / ``presence_disconnect``);
the page's heartbeat (``{"type": "ping"}``, every minute) refreshes that and the group
memberships, which the Redis layer expires after a day. Events the page missed while it was
not connected come from ``/inbox/live/events/`` over HTTP, which the page asks once the socket
is open (subscribed first, so nothing falls between the two).
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from routing.availability import presence_connect, presence_disconnect, presence_touch
from tickets.live import GROUP_INBOX, live_loop_register, user_group

# Close code for a connection without a signed-in user (4000-4999: the application's own).
CLOSE_UNAUTHENTICATED = 4401


class InboxConsumer(AsyncJsonWebsocketConsumer):
    user: Any = None
    joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        live_loop_register(asyncio.get_running_loop())
        self.joined = (GROUP_INBOX, user_group(user.pk))
        await self._join()
        await database_sync_to_async(presence_connect)(user=user)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.user is None:
            return
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        await database_sync_to_async(presence_disconnect)(user=self.user)
        self.user = None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self._join()
            await database_sync_to_async(presence_touch)(user=self.user)
            await self.send_json({"type": "pong"})

    async def live_event(self, message: dict[str, Any]) -> None:
        """An event from ``tickets.live.live_events_push``, as the page receives it."""
        await self.send_json(message["event"])

    async def _join(self) -> None:
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
