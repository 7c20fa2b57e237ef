"""Settings → Help Desk → Users and Teams (admins only), and the page where an invited user
sets their password.

Each page parses a form, calls one ``routing.people`` service and renders; a service's
``ValidationError`` goes beside the fields it names, and nothing is stored then. The admin role
is checked by ``AdminRequiredMixin`` only (and again by the services).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import PasswordResetCompleteView, PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.views import View

from channels_app.views.access import AdminRequiredMixin
from helpdesk.users import user_display_name
from routing.forms import TeamCreateForm, TeamEditForm, UserCreateForm, UserEditForm
from routing.models import RepProfile, Team
from routing.people import (
    Invite,
    team_create,
    team_delete,
    team_update,
    user_create,
    user_invite,
    user_update,
)
from routing.selectors import (
    UserRow,
    team_get_for_settings,
    team_list_for_settings,
    team_routing_accounts,
    user_get_for_settings,
    user_list_for_settings,
)

USERS_URL_NAME = "settings-users"
TEAMS_URL_NAME = "settings-teams"


def _form_errors_add(form: forms.Form, error: ValidationError) -> None:
    """A service's errors beside the fields they name (the form's own errors otherwise)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _invite_page(request: HttpRequest, invite: Invite, *, created: bool) -> HttpResponse:
    """The set-password link, shown once (it is not stored anywhere to show again)."""
    return render(
        request,
        "routing/settings/user_invited.html",
        {
            "invited": invite.user,
            "name": user_display_name(invite.user),
            "link": request.build_absolute_uri(invite.path),
            "emailed": invite.emailed,
            "created": created,
            "timeout_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        },
    )


# --- Users ----------------------------------------------------------------------------------


class UserListView(AdminRequiredMixin, View):
    """``/settings/help-desk/users/``: every user with role, teams, availability, capacity,
    open tickets and status (a constant number of queries)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "routing/settings/users.html", {"rows": user_list_for_settings()})


class UserCreateView(AdminRequiredMixin, View):
    """``…/users/add/``: "Add user"; on success the page shows the set-password link."""

    template_name = "routing/settings/user_form.html"

    def _render(self, request: HttpRequest, form: UserCreateForm) -> HttpResponse:
        return render(request, self.template_name, {"form": form, "adding": True})

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, UserCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UserCreateForm(request.POST)
        if form.is_valid():
            try:
                invite = user_create(actor=request.user, **form.service_kwargs())
            except ValidationError as error:
                _form_errors_add(form, error)
            else:
                return _invite_page(request, invite, created=True)
        return self._render(request, form)


class UserEditView(AdminRequiredMixin, View):
    """``…/users/<id>/``: role, teams, capacity, availability, active, name and email."""

    template_name = "routing/settings/user_form.html"

    def _render(self, request: HttpRequest, row: UserRow, form: UserEditForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "row": row,
                "name": user_display_name(row.user),
                "is_self": row.user.pk == request.user.pk,
            },
        )

    def get(self, request: HttpRequest, user_id: int) -> HttpResponse:
        row = user_get_for_settings(user_id=user_id)
        user = row.user
        form = UserEditForm(
            initial={
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "role": row.profile.role if row.profile else RepProfile.Role.REP,
                "teams": [team.pk for team in row.teams],
                "capacity": row.capacity,
                "availability": row.availability,
                "is_active": user.is_active,
            }
        )
        return self._render(request, row, form)

    def post(self, request: HttpRequest, user_id: int) -> HttpResponse:
        row = user_get_for_settings(user_id=user_id)
        form = UserEditForm(request.POST)
        if form.is_valid():
            try:
                user_update(actor=request.user, user=row.user, **form.service_kwargs())
            except ValidationError as error:
                _form_errors_add(form, error)
            else:
                messages.success(request, f"“{user_display_name(row.user)}” is saved.")
                return HttpResponseRedirect(reverse(USERS_URL_NAME))
        return self._render(request, row, form)


class UserInviteView(AdminRequiredMixin, View):
    """``POST …/users/<id>/invite/``: a new set-password link for the user, shown once."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, user_id: int) -> HttpResponse:
        row = user_get_for_settings(user_id=user_id)
        try:
            invite = user_invite(actor=request.user, user=row.user)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return HttpResponseRedirect(reverse("settings-user-edit", args=[user_id]))
        return _invite_page(request, invite, created=False)


# --- Teams ----------------------------------------------------------------------------------


class TeamListView(AdminRequiredMixin, View):
    """``/settings/help-desk/teams/``: teams with their member counts, and "Create team"."""

    template_name = "routing/settings/teams.html"

    def _render(self, request: HttpRequest, form: TeamCreateForm) -> HttpResponse:
        return render(
            request, self.template_name, {"teams": team_list_for_settings(), "form": form}
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, TeamCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TeamCreateForm(request.POST)
        if form.is_valid():
            try:
                team = team_create(actor=request.user, name=form.cleaned_data["name"])
            except ValidationError as error:
                _form_errors_add(form, error)
            else:
                messages.success(request, f"“{team.name}” is created: choose its members.")
                return HttpResponseRedirect(reverse("settings-team-edit", args=[team.pk]))
        return self._render(request, form)


class TeamEditView(AdminRequiredMixin, View):
    """``…/teams/<id>/``: rename the team and choose its members."""

    template_name = "routing/settings/team_edit.html"

    def _render(self, request: HttpRequest, team: Team, form: TeamEditForm) -> HttpResponse:
        return render(request, self.template_name, {"team": team, "form": form})

    def get(self, request: HttpRequest, team_id: int) -> HttpResponse:
        team = team_get_for_settings(team_id=team_id)
        form = TeamEditForm(
            initial={"name": team.name, "members": list(team.members.values_list("pk", flat=True))}
        )
        return self._render(request, team, form)

    def post(self, request: HttpRequest, team_id: int) -> HttpResponse:
        team = team_get_for_settings(team_id=team_id)
        form = TeamEditForm(request.POST)
        if form.is_valid():
            try:
                saved = team_update(
                    actor=request.user,
                    team=team,
                    name=form.cleaned_data["name"],
                    member_ids=[user.pk for user in form.cleaned_data["members"]],
                )
            except ValidationError as error:
                _form_errors_add(form, error)
            else:
                messages.success(request, f"“{saved.name}” is saved.")
                return HttpResponseRedirect(reverse(TEAMS_URL_NAME))
        return self._render(request, team, form)


class TeamDeleteView(AdminRequiredMixin, View):
    """``…/teams/<id>/delete/``: confirm, then "Delete team"; refused (409, naming the channel
    accounts) while a routing rule uses the team."""

    template_name = "routing/settings/team_delete.html"

    def _render(
        self,
        request: HttpRequest,
        team: Team,
        *,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context = {
            "team": team,
            "accounts": team_routing_accounts(team_id=team.pk),
            "errors": errors or [],
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, team_id: int) -> HttpResponse:
        return self._render(request, team_get_for_settings(team_id=team_id))

    def post(self, request: HttpRequest, team_id: int) -> HttpResponse:
        team = team_get_for_settings(team_id=team_id)
        try:
            team_delete(actor=request.user, team=team)
        except ValidationError as error:
            return self._render(request, team, errors=error.messages, status=409)
        messages.success(request, f"“{team.name}” is deleted.")
        return HttpResponseRedirect(reverse(TEAMS_URL_NAME))


# --- Setting a password from an invitation --------------------------------------------------


class PasswordSetView(PasswordResetConfirmView):
    """``/account/set-password/<uidb64>/<token>/``: the invitation's one-time link (Django's
    password-reset token: it stops working once used). Deactivated users get the invalid-link
    page."""

    template_name = "routing/settings/password_set.html"
    success_url = reverse_lazy("password-set-done")

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None


class PasswordSetDoneView(PasswordResetCompleteView):
    """``/account/set-password/done/``: the password is set; sign in."""

    template_name = "routing/settings/password_set_done.html"
