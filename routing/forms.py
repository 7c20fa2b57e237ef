"""Forms of reps' personal settings (notification kinds, availability) and of the admins'
Users and Teams settings pages. Forms parse what was typed; the checks that matter (unique
names, the self-demotion rule, ...) are ``routing.people``'s, whose errors the views put
beside these fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator

from routing.models import NotificationKind, RepProfile, Team
from routing.selectors import team_member_choices


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


# --- Users and teams (admins) ---------------------------------------------------------------


class _UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        label = f"{name} ({obj.get_username()})" if name else obj.get_username()
        return label if obj.is_active else f"{label} — deactivated"


class _UserFields(forms.Form):
    """What an admin sets of any user."""

    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    email = forms.EmailField(label="Email", required=False)
    role = forms.ChoiceField(
        choices=RepProfile.Role.choices,
        initial=RepProfile.Role.REP,
        widget=forms.RadioSelect,
        help_text="Admins manage the settings pages; reps work the inbox.",
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.order_by("name", "id"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    capacity = forms.IntegerField(
        min_value=0,
        required=False,
        help_text="The most open tickets automatic assignment gives them; blank: no limit.",
    )
    availability = forms.ChoiceField(
        choices=RepProfile.Availability.choices, widget=forms.RadioSelect
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "first_name": data.get("first_name") or "",
            "last_name": data.get("last_name") or "",
            "email": data.get("email") or "",
            "role": data["role"],
            "team_ids": [team.pk for team in data.get("teams") or ()],
            "capacity": data.get("capacity"),
            "availability": data["availability"],
        }


class UserCreateForm(_UserFields):
    """ "Add user": the user gets a set-password link rather than a password."""

    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="What they sign in with: letters, digits and @ . + - _ only.",
    )
    field_order = ["username", "first_name", "last_name", "email"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].help_text = "The invitation is emailed here (optional)."
        self.fields["availability"].initial = RepProfile.Availability.AWAY
        self.fields[
            "availability"
        ].help_text = "New users start Away, so that no ticket is assigned before they sign in."

    def service_kwargs(self) -> dict[str, Any]:
        return {"username": self.cleaned_data["username"], **super().service_kwargs()}


class UserEditForm(_UserFields):
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        help_text=(
            "Deactivated users cannot sign in, are set Away and get no tickets; their open "
            "tickets are unassigned and routed again."
        ),
    )

    def service_kwargs(self) -> dict[str, Any]:
        return {**super().service_kwargs(), "is_active": bool(self.cleaned_data.get("is_active"))}


class TeamCreateForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=200)


class TeamEditForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=200)
    members = _UserChoiceField(
        queryset=team_member_choices(), required=False, widget=forms.CheckboxSelectMultiple
    )
