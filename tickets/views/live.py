"""Live inbox and notifications (I8, I9): the events a page missed, and the rep's bell.

- ``/inbox/live/events/?after=<seq>`` (or ``?since=<unix time>`` for a page just loaded): the
  events the signed-in rep may see, as JSON; ``static/helpdesk/live.js`` asks it after each
  (re)connection of the websocket.
- ``/inbox/live/notifications/``: the bell's unread count and newest notifications, as JSON.
- ``/inbox/notifications/``: the rep's notifications as a page (the bell without scripts).
- ``/inbox/notifications/<id>/open/``: marks one read and goes to its ticket (its link).
- ``POST /inbox/notifications/read/``: marks all of them read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from routing.models import Notification
from routing.notifications import notification_mark_read
from routing.selectors import notification_list_for_user, notification_unread_count
from tickets.live import live_event_to_json
from tickets.selectors import LIVE_EVENT_PAGE_SIZE, live_event_last_seq, live_event_list_for_user

# The bell shows this many notifications; the page this many.
BELL_SIZE = 10
PAGE_SIZE = 50


def notification_to_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "text": notification.text,
        "ticketId": notification.ticket_id,
        "url": reverse("inbox-notification-open", args=[notification.pk]),
        "createdAt": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


class _JsonView(View):
    """JSON for scripts, signed-in reps only: 401 rather than a redirect to the sign-in page."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return JsonResponse({"message": "Sign in first."}, status=401)
        return super().dispatch(request, *args, **kwargs)


def _bad_request(field: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"message": message, "errors": [{"in": field, "message": message}]}, status=400
    )


class LiveEventListView(_JsonView):
    """``GET /inbox/live/events/``: ``{"events": [...], "more": bool, "lastSeq": n}``.

    ``after=<seq>``: the events after that sequence number; ``since=<unix time>``: those
    created since (a page asks from the moment it was rendered). Neither: no events, only the
    newest sequence number. At most 200 events per answer; ``more`` says to ask again after
    the last one; ``lastSeq`` is where to continue from. One query (two for ``since`` when
    nothing happened since).
    """

    def get(self, request: HttpRequest) -> HttpResponse:
        after_text = request.GET.get("after", "")
        since_text = request.GET.get("since", "")
        after = since = None
        if after_text:
            if not after_text.isdigit():
                return _bad_request("after", "after must be a sequence number (0 or more).")
            after = int(after_text)
        elif since_text:
            try:
                since = datetime.fromtimestamp(float(since_text), tz=UTC)
            except (ValueError, OverflowError, OSError):
                return _bad_request("since", "since must be a Unix time in seconds.")
        else:
            return JsonResponse({"events": [], "more": False, "lastSeq": live_event_last_seq()})
        events = live_event_list_for_user(user=request.user, after=after, since=since)
        return JsonResponse(
            {
                "events": [live_event_to_json(event) for event in events],
                "more": len(events) >= LIVE_EVENT_PAGE_SIZE,
                # Where to continue from: the last event given, else where the caller was
                # (for ``since``, the newest event now).
                "lastSeq": (
                    events[-1].pk
                    if events
                    else (after if after is not None else live_event_last_seq())
                ),
            }
        )


class NotificationSummaryView(_JsonView):
    """``GET /inbox/live/notifications/``: ``{"unread": n, "items": [...]}`` for the bell."""

    def get(self, request: HttpRequest) -> HttpResponse:
        items = notification_list_for_user(user=request.user)[:BELL_SIZE]
        return JsonResponse(
            {
                "unread": notification_unread_count(user=request.user),
                "items": [notification_to_json(notification) for notification in items],
            }
        )


class NotificationListView(LoginRequiredMixin, View):
    """``GET /inbox/notifications/``: the rep's newest notifications (a fixed query count)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        notifications = list(notification_list_for_user(user=request.user)[:PAGE_SIZE])
        context = {
            "notifications": notifications,
            "unread": notification_unread_count(user=request.user),
        }
        return render(request, "tickets/inbox/notifications.html", context)


class NotificationOpenView(LoginRequiredMixin, View):
    """``GET /inbox/notifications/<id>/open/``: the notification's link. Marks it read (opening
    it is reading it) and goes to its ticket; another rep's notification is a 404."""

    def get(self, request: HttpRequest, notification_id: int) -> HttpResponse:
        ticket_id = (
            notification_list_for_user(user=request.user)
            .filter(pk=notification_id)
            .values_list("ticket_id", flat=True)
            .first()
        )
        if ticket_id is None:
            raise Http404("No such notification.")
        notification_mark_read(user=request.user, notification_ids=[notification_id])
        return HttpResponseRedirect(reverse("inbox-ticket", args=[ticket_id]))


class NotificationReadAllView(LoginRequiredMixin, View):
    """``POST /inbox/notifications/read/``: marks all the rep's notifications read, then back
    to ``next`` (a path of this site) or the notifications page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        count = notification_mark_read(user=request.user)
        if request.headers.get("Accept", "").startswith("application/json"):
            return JsonResponse({"read": count})
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("inbox-notifications")
        return HttpResponseRedirect(target)
