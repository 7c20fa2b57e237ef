"""The connect wizard (SPEC C2, C3): pick a channel → credentials (or the app's own page) →
routing → done.

The steps so far are kept in the session under ``WIZARD_KEY``: the channel, the account name
and the credentials, encrypted as the stored ones are (SPEC C6), until the routing step's
"Next" connects the account with ``channel_account_connect`` and clears them.

For a channel with a ``channelAccountConnectionRedirectUrl`` the routing step comes first:
"Next" creates a staging token holding the routing (``staging_token_create``) and sends the admin
to the app with ``?accountToken=&channelId=&returnUrl=``; the app completes the token through the
API, and the resume page (``returnUrl``) waits for that and then shows the done page.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from channels_app.accounts import channel_account_connect, staging_token_create
from channels_app.audit import audit_record
from channels_app.capabilities import InvalidInputError
from channels_app.forms import ROUTING_ERROR_PATHS, CredentialsForm, RoutingForm, apply_api_errors
from channels_app.models import AuditEntry, ChannelAccount, CustomChannel, StagingToken
from channels_app.selectors import (
    channel_account_get_for_settings,
    channel_get_for_connect_wizard,
    channel_list_for_connect_wizard,
    staging_token_get_for_user,
)
from channels_app.views.access import AdminRequiredMixin
from channels_app.views.channel_accounts import account_target
from helpdesk.encryption import decrypt_text, encrypt_text

WIZARD_KEY = "channel_connect_wizard"
# How often the resume page reloads while the app finishes the connection.
WAITING_REFRESH_SECONDS = 3


def _wizard(session: SessionBase, channel: CustomChannel) -> dict[str, Any]:
    """The wizard's state for ``channel`` ({} when the session holds another channel's)."""
    state = session.get(WIZARD_KEY) or {}
    return state if state.get("channel_id") == channel.pk else {}


def _credentials_of(state: dict[str, Any]) -> dict[str, str]:
    return dict(json.loads(decrypt_text(state["credentials"])))


def _uses_redirect(channel: CustomChannel) -> bool:
    return bool(channel.account_connection_redirect_url)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))


def _record_connect(actor_id: int | None, account: ChannelAccount, routing: dict[str, Any]) -> None:
    audit_record(
        actor_id=actor_id,
        action=AuditEntry.Action.CONNECT,
        target=account_target(account),
        app_id=account.channel.app_id,
        channel_id=account.channel_id,
        channel_account_id=account.pk,
        changes={"routing": routing, "inboxId": account.inbox_id},
    )


class ConnectChannelPickView(AdminRequiredMixin, View):
    """``…/connect/``: "Connect a new channel", the installed apps' channels as cards."""

    def get(self, request: HttpRequest) -> HttpResponse:
        channels = list(channel_list_for_connect_wizard())
        return render(request, "channels_app/settings/connect_pick.html", {"channels": channels})


class ConnectChannelStartView(AdminRequiredMixin, View):
    """``…/connect/<channel_id>/`` ("Continue with <name>", "Connect another account"): starts
    the wizard for one channel afresh and goes to its first step."""

    def get(self, request: HttpRequest, channel_id: int) -> HttpResponse:
        return self.post(request, channel_id)

    def post(self, request: HttpRequest, channel_id: int) -> HttpResponse:
        channel = channel_get_for_connect_wizard(channel_id=channel_id)
        request.session[WIZARD_KEY] = {"channel_id": channel.pk}
        step = (
            "settings-connect-routing"
            if _uses_redirect(channel)
            else "settings-connect-credentials"
        )
        return HttpResponseRedirect(reverse(step, args=[channel.pk]))


class ConnectCredentialsView(AdminRequiredMixin, View):
    """``…/connect/<channel_id>/credentials/``: the account name and the channel's fields."""

    template_name = "channels_app/settings/connect_credentials.html"

    def _render(
        self, request: HttpRequest, channel: CustomChannel, form: CredentialsForm
    ) -> HttpResponse:
        return render(request, self.template_name, {"channel": channel, "form": form})

    def get(self, request: HttpRequest, channel_id: int) -> HttpResponse:
        channel = channel_get_for_connect_wizard(channel_id=channel_id)
        if _uses_redirect(channel):
            return HttpResponseRedirect(reverse("settings-connect-routing", args=[channel.pk]))
        state = _wizard(request.session, channel)
        form = CredentialsForm(channel=channel, initial={"account_name": state.get("account_name")})
        return self._render(request, channel, form)

    def post(self, request: HttpRequest, channel_id: int) -> HttpResponse:
        channel = channel_get_for_connect_wizard(channel_id=channel_id)
        form = CredentialsForm(request.POST, channel=channel)
        if not form.is_valid():
            return self._render(request, channel, form)
        request.session[WIZARD_KEY] = {
            "channel_id": channel.pk,
            "account_name": form.cleaned_data["account_name"],
            "credentials": encrypt_text(json.dumps(form.credentials)),
        }
        return HttpResponseRedirect(reverse("settings-connect-routing", args=[channel.pk]))


class ConnectRoutingView(AdminRequiredMixin, View):
    """``…/connect/<channel_id>/routing/``: "Set ticket properties for this channel"; "Next"
    connects the account (or, for a redirect channel, sends the admin to the app)."""

    template_name = "channels_app/settings/connect_routing.html"

    def _render(
        self, request: HttpRequest, channel: CustomChannel, form: RoutingForm
    ) -> HttpResponse:
        return render(request, self.template_name, {"channel": channel, "form": form})

    def _missing_credentials(self, request: HttpRequest, channel: CustomChannel) -> bool:
        return not _uses_redirect(channel) and "credentials" not in _wizard(
            request.session, channel
        )

    def get(self, request: HttpRequest, channel_id: int) -> HttpResponse:
        channel = channel_get_for_connect_wizard(channel_id=channel_id)
        if self._missing_credentials(request, channel):
            return HttpResponseRedirect(reverse("settings-connect-credentials", args=[channel.pk]))
        return self._render(request, channel, RoutingForm())

    def post(self, request: HttpRequest, channel_id: int) -> HttpResponse:
        channel = channel_get_for_connect_wizard(channel_id=channel_id)
        if self._missing_credentials(request, channel):
            return HttpResponseRedirect(reverse("settings-connect-credentials", args=[channel.pk]))
        form = RoutingForm(request.POST)
        if not form.is_valid():
            return self._render(request, channel, form)
        routing = form.routing_options()
        try:
            if _uses_redirect(channel):
                return self._send_to_app(request, channel, form)
            state = _wizard(request.session, channel)
            with transaction.atomic():
                account = channel_account_connect(
                    channel=channel,
                    name=state["account_name"],
                    credentials=_credentials_of(state),
                    routing=routing,
                    created_by_id=request.user.pk,
                )
                _record_connect(request.user.pk, account, routing.to_state())
        except InvalidInputError as error:
            apply_api_errors(form, error, ROUTING_ERROR_PATHS)
            return self._render(request, channel, form)
        request.session.pop(WIZARD_KEY, None)
        return HttpResponseRedirect(reverse("settings-connect-done", args=[account.pk]))

    def _send_to_app(
        self, request: HttpRequest, channel: CustomChannel, form: RoutingForm
    ) -> HttpResponse:
        token, staged = staging_token_create(
            channel=channel, routing=form.routing_options(), created_by_id=request.user.pk
        )
        request.session.pop(WIZARD_KEY, None)
        return_url = request.build_absolute_uri(
            reverse("settings-connect-waiting", args=[staged.pk])
        )
        app_url = _with_query(
            channel.account_connection_redirect_url,
            {"accountToken": token, "channelId": str(channel.pk), "returnUrl": return_url},
        )
        return HttpResponseRedirect(app_url)


class ConnectWaitingView(AdminRequiredMixin, View):
    """``…/connect/waiting/<staging_id>/`` (the ``returnUrl``): "Waiting for <app> to finish…",
    reloading until the app completes the staging token, then the done page.

    The app completes the connection through the API, where no admin is signed in: this page
    records the ``connect`` audit entry (once) for the admin who started it.
    """

    def get(self, request: HttpRequest, staging_id: int) -> HttpResponse:
        staged = staging_token_get_for_user(staging_id=staging_id, user=request.user)
        account = staged.channel_account
        if staged.completed_at is not None and account is not None:
            with transaction.atomic():
                if not AuditEntry.objects.filter(
                    channel_account=account, action=AuditEntry.Action.CONNECT
                ).exists():
                    account.channel = staged.channel
                    _record_connect(
                        staged.created_by_id, account, staged.wizard_state.get("routing", {})
                    )
            return HttpResponseRedirect(reverse("settings-connect-done", args=[account.pk]))
        return render(
            request,
            "channels_app/settings/connect_waiting.html",
            {
                "staged": staged,
                "channel": staged.channel,
                "expired": _expired(staged),
                "refresh_seconds": WAITING_REFRESH_SECONDS,
            },
        )


def _expired(staged: StagingToken) -> bool:
    return staged.expires_at <= timezone.now()


class ConnectDoneView(AdminRequiredMixin, View):
    """``…/connect/done/<account_id>/``: the account is connected; where to go next."""

    def get(self, request: HttpRequest, account_id: int) -> HttpResponse:
        account = channel_account_get_for_settings(account_id=account_id)
        return render(request, "channels_app/settings/connect_done.html", {"account": account})
