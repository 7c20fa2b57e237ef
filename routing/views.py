"""Reps' personal settings pages: which notifications they get, and their availability."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from routing.availability import availability_set
from routing.forms import AvailabilityForm, NotificationPreferencesForm
from routing.models import NotificationKind, RepProfile
from routing.notifications import notification_preferences_set
from routing.selectors import notification_preferences_for_user


def _availability_of(user: Any) -> str:
    profile = RepProfile.objects.filter(user=user).only("availability").first()
    return profile.availability if profile else RepProfile.Availability.AVAILABLE


class NotificationSettingsView(LoginRequiredMixin, View):
    """``/settings/notifications/``: a checkbox per notification kind, and the rep's status."""

    template_name = "routing/notification_settings.html"

    def _render(self, request: HttpRequest, form: NotificationPreferencesForm) -> HttpResponse:
        availability = _availability_of(request.user)
        context = {
            "form": form,
            "kinds": [(form[kind], kind.label) for kind in NotificationKind],
            "availability": availability,
            "availability_label": RepProfile.Availability(availability).label,
            "availability_form": AvailabilityForm(),
        }
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = NotificationPreferencesForm(
            initial=notification_preferences_for_user(user=request.user)
        )
        return self._render(request, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = NotificationPreferencesForm(request.POST)
        if not form.is_valid():
            return self._render(request, form)
        notification_preferences_set(user=request.user, enabled=form.enabled())
        messages.success(request, "Your notification settings are saved.")
        return HttpResponseRedirect(reverse("notification-settings"))


class AvailabilitySetView(LoginRequiredMixin, View):
    """``POST /settings/availability/``: the signed-in rep sets themselves Available or Away."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AvailabilityForm(request.POST)
        if form.is_valid():
            availability_set(
                user=request.user,
                availability=form.cleaned_data["availability"],
                set_by=request.user,
            )
            messages.success(request, "Your status is updated.")
        return HttpResponseRedirect(reverse("notification-settings"))
