"""Forms of reps' personal settings: notification kinds and availability."""

from __future__ import annotations

from typing import Any

from django import forms

from routing.models import NotificationKind, RepProfile


class NotificationPreferencesForm(forms.Form):
    """One checkbox per notification kind: on means in-app, and email while offline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in NotificationKind:
            self.fields[kind.value] = forms.BooleanField(required=False, label=kind.label)

    def enabled(self) -> dict[str, bool]:
        return {kind: bool(self.cleaned_data.get(kind)) for kind in NotificationKind.values}


class AvailabilityForm(forms.Form):
    availability = forms.ChoiceField(choices=RepProfile.Availability.choices)
