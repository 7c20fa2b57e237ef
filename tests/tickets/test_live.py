"""Live events (I8) and the bell's notifications (I9): stored with each change, pushed after
commit, caught up over HTTP per rep, and delivered by the inbox's websocket."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

import tickets.live
from channels_app.deliveries import delivery_attempt, event_enqueue
from channels_app.models import CustomChannel, Delivery
from channels_app.signing import signing_secret_generate
from routing.models import Notification, NotificationKind, NotificationPreference, RepProfile
from tests.conftest import make_app_client
from tests.factories import ChannelAccountFactory
from tests.receiver import Answer, running_receiver
from tests.routing.helpers import Mode, account_with_rule, inbound, rep
from tests.tickets.factories import message_body, messages_url, pending_reply
from tickets.live import GROUP_INBOX, live_event_publish, user_group
from tickets.models import LiveEvent, MessageStatus, PipelineStatus, Ticket
from tickets.services import message_status_update, ticket_set_status
from tickets.tasks import live_events_prune_task

pytestmark = pytest.mark.django_db

Kind = LiveEvent.Kind


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(request: pytest.FixtureRequest, settings: Any) -> Iterator[None]:
    """Each test its own in-memory layer (the Redis test sets its own); no loop left behind."""
    if "redis" not in request.keywords:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield
    tickets.live._listening_loop = None


class Listener:
    """A web process's event loop in a thread, subscribed to channel layer groups: what the
    consumer would receive, through the same cross-thread hand-off ``tickets.live`` uses."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.layer = get_channel_layer()
        tickets.live.live_loop_register(self.loop)

    def _run(self, coroutine: Any, timeout: float = 5) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def subscribe(self, *groups: str) -> str:
        channel = self._run(self.layer.new_channel())
        for group in groups:
            self._run(self.layer.group_add(group, channel))
        return channel

    def receive(self, channel: str, timeout: float = 2) -> dict[str, Any]:
        return self._run(asyncio.wait_for(self.layer.receive(channel), timeout), timeout + 1)

    def nothing_for(self, channel: str, seconds: float = 0.3) -> bool:
        try:
            self.receive(channel, timeout=seconds)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    opened = Listener()
    yield opened
    opened.close()


def _kinds() -> list[str]:
    return list(LiveEvent.objects.order_by("id").values_list("kind", flat=True))


# --- Stored in the transaction, pushed after commit ----------------------------------------


def test_a_routed_ticket_stores_its_events_in_order_in_the_publishing_transaction():
    alice = rep("alice")
    account = account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(alice,))

    result = inbound(account)

    ticket = Ticket.objects.get(pk=result.message.ticket_id)
    events = list(LiveEvent.objects.order_by("id"))
    assert [event.kind for event in events] == [
        Kind.TICKET_CREATED,
        Kind.TICKET_ASSIGNED,
        Kind.NOTIFICATION_CREATED,
    ]
    seqs = [event.pk for event in events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
    created, assigned, notified = events
    assert (created.ticket_id, created.message_id) == (ticket.pk, result.message.pk)
    assert (created.owner_id, created.user_id) == (None, None)
    assert created.data == {"direction": "INCOMING", "medium": "CUSTOM_CHANNEL"}
    assert (assigned.owner_id, assigned.user_id) == (alice.pk, None)
    notification = Notification.objects.get(user=alice)
    assert notified.user_id == alice.pk, "a notification's event is its rep's alone"
    assert notified.data["notificationId"] == notification.pk
    assert notified.data["notificationKind"] == NotificationKind.TICKET_ASSIGNED
    assert notified.data["url"] == f"/inbox/notifications/{notification.pk}/open/"

    inbound(account, thread="thread-of-the-first", name="Ada")
    follow_up = inbound(account, thread="thread-of-the-first")
    assert _kinds()[-2:] == [Kind.MESSAGE_CREATED, Kind.NOTIFICATION_CREATED]
    assert LiveEvent.objects.filter(message_id=follow_up.message.pk).count() == 2


def test_a_rolled_back_change_leaves_no_event_and_pushes_nothing(
    listener, django_capture_on_commit_callbacks
):
    channel = listener.subscribe(GROUP_INBOX)
    account = account_with_rule(mode=Mode.NONE)
    ticket = Ticket.objects.get(pk=inbound(account).message.ticket_id)
    before = LiveEvent.objects.count()

    def failing_change() -> None:
        with transaction.atomic():
            live_event_publish(kind=Kind.TICKET_STATUS_CHANGED, ticket=ticket)
            raise RuntimeError("the change fails")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        failing_change()

    assert callbacks == []
    assert LiveEvent.objects.count() == before
    assert listener.nothing_for(channel)


def test_nothing_is_pushed_before_commit_then_each_event_once_in_order(
    listener, django_capture_on_commit_callbacks
):
    alice = rep("alice")
    everyone = listener.subscribe(GROUP_INBOX)
    alices = listener.subscribe(user_group(alice.pk))
    account = account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(alice,))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        inbound(account)
    assert LiveEvent.objects.count() == 3, "stored with the change"
    assert listener.nothing_for(everyone), "nothing leaves before commit"

    for callback in callbacks:
        callback()

    stored = {event.kind: event for event in LiveEvent.objects.all()}
    first = listener.receive(everyone)
    second = listener.receive(everyone)
    assert first["type"] == "live.event"
    assert [first["event"]["kind"], second["event"]["kind"]] == [
        Kind.TICKET_CREATED,
        Kind.TICKET_ASSIGNED,
    ]
    assert first["event"]["seq"] == stored[Kind.TICKET_CREATED].pk
    assert second["event"]["ownerId"] == alice.pk
    notified = listener.receive(alices)["event"]
    assert notified["kind"] == Kind.NOTIFICATION_CREATED
    assert notified["seq"] == stored[Kind.NOTIFICATION_CREATED].pk
    assert listener.nothing_for(everyone), "the notification goes to its rep's group only"


def test_publishing_through_the_api_pushes_the_new_ticket(
    listener, django_capture_on_commit_callbacks
):
    everyone = listener.subscribe(GROUP_INBOX)
    app_client = make_app_client()
    account = ChannelAccountFactory(channel__app=app_client.app)

    with django_capture_on_commit_callbacks(execute=True):
        response = app_client.client.post(
            messages_url(account.channel), message_body(account), format="json"
        )

    assert response.status_code == 201
    event = listener.receive(everyone)["event"]
    assert event["kind"] == Kind.TICKET_CREATED
    assert event["messageId"] == int(response.json()["id"])


def test_status_changes_and_delivery_statuses_are_events():
    account = account_with_rule(mode=Mode.NONE)
    ticket = Ticket.objects.get(pk=inbound(account).message.ticket_id)
    closed = PipelineStatus.objects.get(pipeline=ticket.pipeline, state="CLOSED")

    ticket_set_status(ticket=ticket, status=closed)
    ticket_set_status(ticket=Ticket.objects.get(pk=ticket.pk), status=closed)  # unchanged

    [status_event] = LiveEvent.objects.filter(kind=Kind.TICKET_STATUS_CHANGED)
    assert status_event.ticket_id == ticket.pk
    assert status_event.data == {"statusId": closed.pk, "status": closed.name, "state": "CLOSED"}

    reply = pending_reply(ChannelAccountFactory())
    message_status_update(message=reply, status_type=MessageStatus.FAILED, error_message="Gone")
    message_status_update(message=reply, status_type=MessageStatus.FAILED, error_message="Gone")
    [delivery_event] = LiveEvent.objects.filter(kind=Kind.MESSAGE_STATUS_CHANGED)
    assert (delivery_event.message_id, delivery_event.ticket_id) == (reply.pk, reply.ticket_id)
    assert delivery_event.data == {"status": "FAILED", "failureReason": "Gone"}


def test_a_reply_whose_delivery_fails_gets_its_status_event():
    with running_receiver([Answer(400)]) as receiver:
        account = ChannelAccountFactory(channel__signing_secret=signing_secret_generate())
        CustomChannel.objects.filter(pk=account.channel_id).update(webhook_url=receiver.url)
        reply = pending_reply(account)
        delivery = event_enqueue(
            channel=account.channel,
            event_type=Delivery.EventType.OUTGOING_CHANNEL_MESSAGE_CREATED,
            payload={"channelId": str(account.channel_id), "message": {"id": str(reply.pk)}},
            channel_account_id=account.pk,
            message_id=reply.pk,
        )
        delivery_attempt(delivery_id=delivery.pk)

    [event] = LiveEvent.objects.filter(kind=Kind.MESSAGE_STATUS_CHANGED)
    assert event.message_id == reply.pk
    assert event.data["status"] == "FAILED"
    assert "HTTP 400" in event.data["failureReason"]


def test_a_notification_switched_off_has_no_event():
    alice = rep("alice")
    NotificationPreference.objects.create(
        user=alice, kind=NotificationKind.TICKET_ASSIGNED, enabled=False
    )
    inbound(account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(alice,)))
    assert _kinds() == [Kind.TICKET_CREATED, Kind.TICKET_ASSIGNED]


def test_old_events_are_pruned_and_sequence_numbers_never_reused():
    account = account_with_rule(mode=Mode.NONE)
    inbound(account)
    inbound(account)
    old, recent = LiveEvent.objects.order_by("id")
    LiveEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))

    assert live_events_prune_task.delay().get() == 1
    assert list(LiveEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    inbound(account)
    assert LiveEvent.objects.order_by("id").last().pk > recent.pk
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert "tickets.live_events_prune" in scheduled


# --- /inbox/live/events/ --------------------------------------------------------------------


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _events_scene() -> tuple[Any, Any, list[LiveEvent]]:
    """Alice and Bob; a ticket assigned to Alice (her notification), then one to Bob."""
    alice, bob = rep("alice"), rep("bob")
    inbound(account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(alice,)))
    inbound(account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(bob,)))
    return alice, bob, list(LiveEvent.objects.order_by("id"))


def test_the_events_endpoint_gives_a_rep_everyones_events_and_only_their_notifications():
    alice, bob, events = _events_scene()

    body = _signed_in(alice).get("/inbox/live/events/", {"after": 0}).json()

    seen = [event["seq"] for event in body["events"]]
    expected = [event.pk for event in events if event.user_id in (None, alice.pk)]
    assert seen == expected
    assert len(seen) == 5, "two tickets created and assigned, and Alice's notification"
    assert body["lastSeq"] == seen[-1]
    assert body["more"] is False
    first = body["events"][0]
    assert set(first) == {"seq", "kind", "ticketId", "messageId", "ownerId", "data", "createdAt"}
    bobs = _signed_in(bob).get("/inbox/live/events/", {"after": 0}).json()["events"]
    assert [e["data"]["text"] for e in bobs if e["kind"] == Kind.NOTIFICATION_CREATED] == [
        Notification.objects.get(user=bob).text
    ]


def test_the_events_endpoint_starts_after_a_sequence_number_or_at_a_time():
    alice, _bob, events = _events_scene()
    client = _signed_in(alice)
    middle = events[2].pk

    after = client.get("/inbox/live/events/", {"after": middle}).json()["events"]
    assert [event["seq"] for event in after] == [
        event.pk for event in events[3:] if event.user_id in (None, alice.pk)
    ]
    head = client.get("/inbox/live/events/").json()
    assert head == {"events": [], "more": False, "lastSeq": events[-1].pk}
    LiveEvent.objects.filter(pk__lte=middle).update(created_at=timezone.now() - timedelta(hours=1))
    since = timezone.now() - timedelta(minutes=1)
    recent = client.get("/inbox/live/events/", {"since": since.timestamp()}).json()["events"]
    assert [event["seq"] for event in recent] == [event["seq"] for event in after]
    later = (timezone.now() + timedelta(minutes=1)).timestamp()
    nothing_yet = client.get("/inbox/live/events/", {"since": later}).json()
    assert nothing_yet == {"events": [], "more": False, "lastSeq": events[-1].pk}
    assert client.get("/inbox/live/events/", {"after": "-1"}).status_code == 400
    assert client.get("/inbox/live/events/", {"since": "soon"}).status_code == 400


def test_the_events_endpoint_pages_and_is_for_signed_in_reps_only(django_assert_num_queries):
    alice = rep("alice")
    account = account_with_rule(mode=Mode.NONE)
    ticket = Ticket.objects.get(pk=inbound(account).message.ticket_id)
    LiveEvent.objects.bulk_create(
        LiveEvent(kind=Kind.MESSAGE_CREATED, ticket_id=ticket.pk) for _ in range(250)
    )
    client = _signed_in(alice)
    client.get("/inbox/live/events/", {"after": 0})  # the session's first use

    with django_assert_num_queries(3):  # session, user, events
        first = client.get("/inbox/live/events/", {"after": 0}).json()
    assert (len(first["events"]), first["more"]) == (200, True)
    rest = client.get("/inbox/live/events/", {"after": first["lastSeq"]}).json()
    assert (len(rest["events"]), rest["more"]) == (51, False)

    anonymous = Client().get("/inbox/live/events/", {"after": 0})
    assert anonymous.status_code == 401


# --- The bell -------------------------------------------------------------------------------


def test_the_bell_counts_unread_notifications_and_opening_one_marks_it_read():
    alice, bob, _events = _events_scene()
    inbound(account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(alice,)))
    client = _signed_in(alice)

    bell = client.get("/inbox/live/notifications/").json()
    assert bell["unread"] == 2
    newest = bell["items"][0]
    assert newest["url"] == f"/inbox/notifications/{newest['id']}/open/"
    assert newest["read"] is False

    opened = client.get(newest["url"])
    assert opened.status_code == 302
    assert opened["Location"] == f"/inbox/tickets/{newest['ticketId']}/"
    assert Notification.objects.get(pk=newest["id"]).read_at is not None
    assert client.get("/inbox/live/notifications/").json()["unread"] == 1

    bobs = Notification.objects.get(user=bob)
    assert client.get(f"/inbox/notifications/{bobs.pk}/open/").status_code == 404
    assert Notification.objects.get(pk=bobs.pk).read_at is None

    response = client.post("/inbox/notifications/read/", {"next": "https://evil.example/"})
    assert response["Location"] == "/inbox/notifications/"
    assert client.get("/inbox/live/notifications/").json()["unread"] == 0
    assert Notification.objects.get(pk=bobs.pk).read_at is None


@pytest.mark.parametrize("count", [1, 20])
def test_the_notifications_page_lists_them_with_a_fixed_query_count(
    count, django_assert_num_queries
):
    alice = rep("alice")
    account = account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(alice,))
    for _ in range(count):
        inbound(account)
    client = _signed_in(alice)
    client.get("/inbox/notifications/")

    with django_assert_num_queries(4):  # session, user, notifications, unread count
        response = client.get("/inbox/notifications/")

    assert response.status_code == 200
    assert response.content.decode().count('data-testid="notification"') == count
    assert 'data-testid="bell"' in response.content.decode()


def test_signed_in_pages_carry_the_bell_and_live_script_and_anonymous_ones_do_not():
    page = _signed_in(rep("alice")).get("/settings/notifications/").content.decode()
    assert 'data-testid="bell"' in page
    assert "helpdesk/live.js" in page
    assert 'data-events-url="/inbox/live/events/"' in page
    anonymous = Client().get("/login/").content.decode()
    assert "bell" not in anonymous
    assert "live.js" not in anonymous


# --- The websocket --------------------------------------------------------------------------


class Socket(ApplicationCommunicator):
    """A page's websocket, driven message by message (``channels.testing``'s communicator
    without its import of daphne, which the help desk does not use)."""

    def __init__(self, application: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("localhost", 80),
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 2) -> tuple[bool, Any]:
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(timeout)
        return answer["type"] == "websocket.accept", answer.get("code")

    async def send_json_to(self, data: Any) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout: float = 2) -> Any:
        answer = await self.receive_output(timeout)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 2) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def _headers(user: Any | None, origin: bytes = b"http://localhost") -> list[tuple[bytes, bytes]]:
    """A page's handshake headers: its site, and the session cookie of ``user`` if any."""
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if user is not None:
        name = django_settings.SESSION_COOKIE_NAME
        cookie = _signed_in(user).cookies[name].value
        headers.append((b"cookie", f"{name}={cookie}".encode()))
    return headers


def _socket(headers: list[tuple[bytes, bytes]]) -> Socket:
    from helpdesk.asgi import application

    return Socket(application, "/ws/inbox/", headers)


def _run_async(scenario: Any, *args: Any) -> Any:
    """Runs an async scenario to its end from a thread of its own, where its database calls run
    too (``async_to_sync``; a browser test leaves Playwright's loop running in the main thread,
    where ``async_to_sync`` refuses to run)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = async_to_sync(scenario)(*args)
        except BaseException as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


# Consumers close "stale" connections around each database call (Channels), which a test
# inside a transaction would see as its own connection closing: these tests commit.
_committing = pytest.mark.django_db(transaction=True)


def _profile(user: Any) -> RepProfile:
    return RepProfile.objects.get(user=user)


@_committing
def test_the_websocket_delivers_events_and_counts_the_rep_online():
    alice, bob = rep("alice"), rep("bob")
    account = account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(bob,))

    def publish() -> None:
        inbound(account)  # commits: the events leave after commit

    headers = _headers(alice)

    async def scenario() -> list[dict[str, Any]]:
        socket = _socket(headers)
        connected, _ = await socket.connect()
        assert connected
        assert (await database_sync_to_async(_profile)(alice)).live_connections == 1
        await database_sync_to_async(publish)()
        received = [await socket.receive_json_from(timeout=2) for _ in range(2)]
        assert await socket.receive_nothing(timeout=0.3), "Bob's notification is not Alice's"
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from(timeout=2) == {"type": "pong"}
        await socket.disconnect()
        return received

    received = _run_async(scenario)

    assert [event["kind"] for event in received] == [Kind.TICKET_CREATED, Kind.TICKET_ASSIGNED]
    assert [event["seq"] for event in received] == list(
        LiveEvent.objects.filter(user_id__isnull=True).order_by("id").values_list("pk", flat=True)
    )
    profile = _profile(alice)
    assert profile.live_connections == 0
    assert profile.last_seen_at is not None


@_committing
def test_the_websocket_brings_a_rep_their_own_notifications():
    alice = rep("alice")
    account = account_with_rule(mode=Mode.SPECIFIC_USERS_AND_TEAMS, users=(alice,))

    def publish() -> None:
        inbound(account)  # commits: the events leave after commit

    headers = _headers(alice)

    async def scenario() -> list[str]:
        socket = _socket(headers)
        assert (await socket.connect())[0]
        await database_sync_to_async(publish)()
        kinds = [(await socket.receive_json_from(timeout=2))["kind"] for _ in range(3)]
        await socket.disconnect()
        return kinds

    kinds = _run_async(scenario)
    assert sorted(kinds) == sorted(
        [Kind.TICKET_CREATED, Kind.TICKET_ASSIGNED, Kind.NOTIFICATION_CREATED]
    )


@_committing
def test_the_websocket_refuses_anonymous_visitors_and_other_sites():
    alice = rep("alice")

    async def attempt(headers: list[tuple[bytes, bytes]]) -> bool:
        socket = _socket(headers)
        connected, _ = await socket.connect()
        if connected:
            await socket.disconnect()
        return connected

    assert _run_async(attempt, _headers(None)) is False
    assert _run_async(attempt, _headers(alice, origin=b"https://evil.example")) is False
    assert _profile(alice).live_connections == 0
    assert _run_async(attempt, _headers(alice)) is True


@pytest.mark.redis
@_committing
def test_the_websocket_works_over_the_redis_channel_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [django_settings.REDIS_URL],
                "prefix": f"test-{uuid.uuid4().hex[:12]}",
            },
        }
    }
    alice = rep("alice")
    account = account_with_rule(mode=Mode.NONE)

    def publish() -> None:
        inbound(account)  # commits: the events leave after commit

    headers = _headers(alice)

    async def scenario() -> dict[str, Any]:
        socket = _socket(headers)
        assert (await socket.connect())[0]
        await database_sync_to_async(publish)()
        event = await socket.receive_json_from(timeout=3)
        await socket.disconnect()
        return event

    event = _run_async(scenario)
    assert event["kind"] == Kind.TICKET_CREATED
    assert event["seq"] == LiveEvent.objects.get().pk
