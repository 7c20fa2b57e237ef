"""Who may open the settings pages: the one place the admin role is checked for pages.

Admins (a rep profile with the ADMIN role, or Django staff/superusers: the rule of
``channels_app.installs.user_can_install_apps``) see and change channel settings. A signed-out
visitor is redirected to sign in (``settings.LOGIN_URL``); a signed-in rep gets a 403 page.
Every settings view inherits ``AdminRequiredMixin``; nothing else checks the role.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from channels_app.installs import user_can_install_apps


def user_is_admin(user: Any) -> bool:
    """The admin role: the same rule as approving app installs."""
    return user_can_install_apps(user)


def forbidden_page(request: HttpRequest) -> HttpResponse:
    """The friendly 403 page a signed-in rep gets on an admin page."""
    return render(request, "channels_app/settings/forbidden.html", status=403)


class AdminRequiredMixin(LoginRequiredMixin):
    """A page for admins only: anonymous → sign in (``LoginRequiredMixin``), rep → 403 page."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.user.is_authenticated and not user_is_admin(request.user):
            return forbidden_page(request)
        return super().dispatch(request, *args, **kwargs)
