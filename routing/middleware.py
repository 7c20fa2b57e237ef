"""Presence (R5): every request of a signed-in rep counts as activity.

Add ``routing.middleware.PresenceMiddleware`` to ``MIDDLEWARE`` after
``AuthenticationMiddleware``. Cheap: ``presence_touch`` writes at most once per 30 seconds per
rep and answers most requests from the cache alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from routing.availability import presence_touch


class PresenceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            presence_touch(user=user)
        return self.get_response(request)
