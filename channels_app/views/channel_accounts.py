"""Settings → Help Desk → Channels (SPEC C1, C4): the connected accounts, and Edit, Delete and
the Status switch of each.

Each page calls the service the API calls and records the audit entry in the same
transaction; nothing here changes state by itself.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from channels_app.accounts import (
    channel_account_deactivate,
    channel_account_delete,
    channel_account_reactivate,
    routing_options_of,
    routing_rule_update,
)
from channels_app.audit import audit_record
from channels_app.capabilities import InvalidInputError
from channels_app.forms import ROUTING_ERROR_PATHS, RoutingForm, apply_api_errors
from channels_app.models import AuditEntry, ChannelAccount
from channels_app.selectors import (
    channel_account_get_for_settings,
    channel_account_list_for_settings,
    routing_summary,
)
from channels_app.views.access import AdminRequiredMixin

CHANNELS_URL_NAME = "settings-channels"


def account_target(account: ChannelAccount) -> str:
    """How the audit log names an account."""
    return f"{account.channel.name} · {account.name}"


def _rule_of(account: ChannelAccount) -> Any:
    return getattr(account, "routing_rule", None)


def _record(request: HttpRequest, account: ChannelAccount, action: str, **changes: Any) -> None:
    audit_record(
        actor_id=request.user.pk,
        action=action,
        target=account_target(account),
        app_id=account.channel.app_id,
        channel_id=account.channel_id,
        channel_account_id=account.pk,
        changes=changes,
    )


class ChannelAccountListView(AdminRequiredMixin, View):
    """``/settings/help-desk/channels/``: the connected accounts, or what a custom channel is."""

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = [
            {"account": account, "routing": routing_summary(_rule_of(account))}
            for account in channel_account_list_for_settings()
        ]
        return render(request, "channels_app/settings/channels.html", {"rows": rows})


class ChannelAccountEditView(AdminRequiredMixin, View):
    """``…/<id>/edit/``: the routing step again; Save replaces the account's routing rule."""

    template_name = "channels_app/settings/account_edit.html"

    def _render(
        self, request: HttpRequest, account: ChannelAccount, form: RoutingForm
    ) -> HttpResponse:
        return render(request, self.template_name, {"account": account, "form": form})

    def get(self, request: HttpRequest, account_id: int) -> HttpResponse:
        account = channel_account_get_for_settings(account_id=account_id)
        form = RoutingForm(initial=RoutingForm.initial_for(routing_options_of(_rule_of(account))))
        return self._render(request, account, form)

    def post(self, request: HttpRequest, account_id: int) -> HttpResponse:
        account = channel_account_get_for_settings(account_id=account_id)
        form = RoutingForm(request.POST)
        if form.is_valid():
            try:
                routing_rule_update(
                    account=account,
                    routing=form.routing_options(),
                    updated_by_id=request.user.pk,
                )
            except InvalidInputError as error:
                apply_api_errors(form, error, ROUTING_ERROR_PATHS)
            else:
                messages.success(request, f"“{account.name}” is saved.")
                return HttpResponseRedirect(reverse(CHANNELS_URL_NAME))
        return self._render(request, account, form)


class ChannelAccountDeleteView(AdminRequiredMixin, View):
    """``…/<id>/delete/``: confirm, then "Delete account" archives it and tells the app."""

    def get(self, request: HttpRequest, account_id: int) -> HttpResponse:
        account = channel_account_get_for_settings(account_id=account_id)
        return render(request, "channels_app/settings/account_delete.html", {"account": account})

    def post(self, request: HttpRequest, account_id: int) -> HttpResponse:
        account = channel_account_get_for_settings(account_id=account_id)
        with transaction.atomic():
            channel_account_delete(account=account)
            _record(request, account, AuditEntry.Action.DELETE)
        messages.success(request, f"“{account.name}” is deleted.")
        return HttpResponseRedirect(reverse(CHANNELS_URL_NAME))


class ChannelAccountDeactivateView(AdminRequiredMixin, View):
    """``…/<id>/deactivate/``: confirm, then "Deactivate": inbound messages are refused with
    409 and replies are disabled until the account is reactivated."""

    def get(self, request: HttpRequest, account_id: int) -> HttpResponse:
        account = channel_account_get_for_settings(account_id=account_id)
        return render(
            request, "channels_app/settings/account_deactivate.html", {"account": account}
        )

    def post(self, request: HttpRequest, account_id: int) -> HttpResponse:
        account = channel_account_get_for_settings(account_id=account_id)
        with transaction.atomic():
            updated = channel_account_deactivate(account=account)
            if account.authorized and not updated.authorized:
                _record(request, account, AuditEntry.Action.DEACTIVATE, authorized=False)
        messages.success(request, f"“{account.name}” is deactivated.")
        return HttpResponseRedirect(reverse(CHANNELS_URL_NAME))


class ChannelAccountReactivateView(AdminRequiredMixin, View):
    """``POST …/<id>/reactivate/``: one click, no confirmation."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, account_id: int) -> HttpResponse:
        account = channel_account_get_for_settings(account_id=account_id)
        with transaction.atomic():
            updated = channel_account_reactivate(account=account)
            if not account.authorized and updated.authorized:
                _record(request, account, AuditEntry.Action.REACTIVATE, authorized=True)
        messages.success(request, f"“{account.name}” is active again.")
        return HttpResponseRedirect(reverse(CHANNELS_URL_NAME))
