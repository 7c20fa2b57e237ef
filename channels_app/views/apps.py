"""Settings → Help Desk → Apps (SPEC C5, C7): create apps, their tokens, uninstall, and each
custom channel's signing secret, recent deliveries, Redeliver and Re-enable webhook.

Each page calls one service (the one the API, the admin or the ``create_app`` command calls);
the services record the audit entries. Secrets exist in plaintext only in the response that
follows their creation: the POST keeps them, encrypted, in the session (``SHOWN_ONCE_KEY``),
and the app page's next GET takes them out and shows them, so a reload shows them no more.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from channels_app.capabilities import InvalidInputError
from channels_app.deliveries import RedeliveryRefused, delivery_redeliver, webhook_reenable
from channels_app.forms import (
    APP_ERROR_PATHS,
    SCOPE_LABELS,
    TOKEN_ERROR_PATHS,
    AppCreateForm,
    TokenCreateForm,
    apply_api_errors,
)
from channels_app.installs import app_uninstall
from channels_app.models import App, Delivery
from channels_app.selectors import (
    APP_PAGE_RECENT_DELIVERIES,
    app_channel_get_for_settings,
    app_delivery_get_for_settings,
    app_get_for_settings,
    app_list_for_settings,
    app_token_get_for_settings,
)
from channels_app.services import app_create, signing_secret_rotate, token_create, token_revoke
from channels_app.views.access import AdminRequiredMixin
from helpdesk.encryption import decrypt_text, encrypt_text

SHOWN_ONCE_KEY = "apps_shown_once"
REDELIVERABLE = (Delivery.Status.FAILED, Delivery.Status.CANCELLED)


def _app_url(app_id: int) -> str:
    return reverse("settings-app", args=[app_id])


def _show_once(session: SessionBase, app_id: int, items: list[dict[str, str]]) -> None:
    """Keeps ``items`` (``{label, value, note}``) for the app page's next load; the values are
    encrypted as credentials are, so the session store never holds them in plaintext."""
    pending = dict(session.get(SHOWN_ONCE_KEY) or {})
    pending.setdefault(str(app_id), []).extend(
        {**item, "value": encrypt_text(item["value"])} for item in items
    )
    session[SHOWN_ONCE_KEY] = pending


def _take_shown_once(session: SessionBase, app_id: int) -> list[dict[str, str]]:
    """Takes the app's pending secrets out of the session (an untouched session is not saved)."""
    pending = session.get(SHOWN_ONCE_KEY)
    if not pending or str(app_id) not in pending:
        return []
    pending = dict(pending)
    items = pending.pop(str(app_id))
    if pending:
        session[SHOWN_ONCE_KEY] = pending
    else:
        del session[SHOWN_ONCE_KEY]
    return [{**item, "value": decrypt_text(item["value"])} for item in items]


def installer_of(app: App) -> Any:
    """Who installed the app: the admin who last approved its consent page, else its creator
    (an app created by an admin is installed at once). Reads the joined users."""
    return app.authorized_by if app.authorized_at else app.created_by


class AppListView(AdminRequiredMixin, View):
    """``/settings/help-desk/apps/``: every app with its install state, channels and tokens."""

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = [{"app": app, "installer": installer_of(app)} for app in app_list_for_settings()]
        return render(request, "channels_app/settings/apps.html", {"rows": rows})


class AppCreateView(AdminRequiredMixin, View):
    """``…/apps/new/``: "Create app"; then the app page shows its secrets once."""

    template_name = "channels_app/settings/app_create.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": AppCreateForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AppCreateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = app_create(
                    name=data["name"],
                    description=data["description"],
                    logo_url=data["logo_url"],
                    redirect_uris=data["redirect_uris"],
                    created_by_id=request.user.pk,
                )
            except InvalidInputError as error:
                apply_api_errors(form, error, APP_ERROR_PATHS)
            else:
                _show_once(
                    request.session,
                    created.app.pk,
                    [
                        {"label": "Client secret", "value": created.app.client_secret},
                        {"label": "Access token (“Initial token”)", "value": created.access_token},
                        {"label": "Developer API key", "value": created.developer_api_key},
                    ],
                )
                messages.success(request, f"“{created.app.name}” is created and installed.")
                return HttpResponseRedirect(_app_url(created.app.pk))
        return render(request, self.template_name, {"form": form})


class AppDetailView(AdminRequiredMixin, View):
    """``…/apps/<id>/``: the app, its secrets once after they were made, its tokens, and each
    channel's signing secret and recent deliveries."""

    def get(self, request: HttpRequest, app_id: int) -> HttpResponse:
        app = app_get_for_settings(app_id=app_id)
        context = {
            "app": app,
            "installer": installer_of(app),
            "shown_once": _take_shown_once(request.session, app.pk),
            "scope_labels": SCOPE_LABELS,
            "redeliverable": REDELIVERABLE,
            "recent_deliveries": APP_PAGE_RECENT_DELIVERIES,
            "now": timezone.now(),
        }
        return render(request, "channels_app/settings/app_detail.html", context)


class TokenCreateView(AdminRequiredMixin, View):
    """``…/apps/<id>/tokens/new/``: "Create token" (name and scopes); shown once after."""

    template_name = "channels_app/settings/app_token_create.html"

    def _render(self, request: HttpRequest, app: App, form: TokenCreateForm) -> HttpResponse:
        return render(request, self.template_name, {"app": app, "form": form})

    def get(self, request: HttpRequest, app_id: int) -> HttpResponse:
        return self._render(
            request, app_get_for_settings(app_id=app_id, details=False), TokenCreateForm()
        )

    def post(self, request: HttpRequest, app_id: int) -> HttpResponse:
        app = app_get_for_settings(app_id=app_id, details=False)
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            try:
                plaintext, token = token_create(
                    app=app,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    created_by_id=request.user.pk,
                )
            except InvalidInputError as error:
                apply_api_errors(form, error, TOKEN_ERROR_PATHS)
            else:
                _show_once(
                    request.session,
                    app.pk,
                    [{"label": f"Access token “{token.name}”", "value": plaintext}],
                )
                messages.success(request, f"Token “{token.name}” is created.")
                return HttpResponseRedirect(_app_url(app.pk))
        return self._render(request, app, form)


class TokenRevokeView(AdminRequiredMixin, View):
    """``…/apps/<id>/tokens/<token_id>/revoke/``: confirm, then "Revoke token"."""

    def get(self, request: HttpRequest, app_id: int, token_id: int) -> HttpResponse:
        token = app_token_get_for_settings(app_id=app_id, token_id=token_id)
        return render(request, "channels_app/settings/app_token_revoke.html", {"token": token})

    def post(self, request: HttpRequest, app_id: int, token_id: int) -> HttpResponse:
        token = app_token_get_for_settings(app_id=app_id, token_id=token_id)
        token_revoke(token=token, revoked_by_id=request.user.pk)
        messages.success(request, f"Token “{token.name or token.prefix}” is revoked.")
        return HttpResponseRedirect(_app_url(app_id))


def _uninstall_refusal(app: App) -> str:
    """Why the app cannot be uninstalled from its page ("" when it can): only an installed app
    that uses OAuth, because only the consent page installs it again."""
    if not app.is_installed:
        return f"“{app.name}” is not installed."
    if app.oauth_application_id is None:
        return (
            f"“{app.name}” does not use OAuth, so it could never be installed again: revoke "
            "its tokens instead."
        )
    return ""


class AppUninstallView(AdminRequiredMixin, View):
    """``…/apps/<id>/uninstall/``: confirm, then "Uninstall": every token is revoked and the
    channels leave the connect wizard until an admin approves the consent page again."""

    def get(self, request: HttpRequest, app_id: int) -> HttpResponse:
        app = app_get_for_settings(app_id=app_id, details=False)
        if refusal := _uninstall_refusal(app):
            messages.error(request, refusal)
            return HttpResponseRedirect(_app_url(app.pk))
        return render(request, "channels_app/settings/app_uninstall.html", {"app": app})

    def post(self, request: HttpRequest, app_id: int) -> HttpResponse:
        app = app_get_for_settings(app_id=app_id, details=False)
        if refusal := _uninstall_refusal(app):
            messages.error(request, refusal)
            return HttpResponseRedirect(_app_url(app.pk))
        app_uninstall(app=app, uninstalled_by_id=request.user.pk)
        messages.success(request, f"“{app.name}” is uninstalled; its tokens are revoked.")
        return HttpResponseRedirect(_app_url(app.pk))


class SigningSecretRotateView(AdminRequiredMixin, View):
    """``…/apps/<id>/channels/<channel_id>/rotate-signing-secret/``: confirm, then "Rotate";
    the new secret is shown once, and the previous one keeps signing for 24 hours."""

    def get(self, request: HttpRequest, app_id: int, channel_id: int) -> HttpResponse:
        channel = app_channel_get_for_settings(app_id=app_id, channel_id=channel_id)
        return render(
            request,
            "channels_app/settings/app_secret_rotate.html",
            {"channel": channel, "now": timezone.now()},
        )

    def post(self, request: HttpRequest, app_id: int, channel_id: int) -> HttpResponse:
        channel = app_channel_get_for_settings(app_id=app_id, channel_id=channel_id)
        rotated = signing_secret_rotate(channel=channel, rotated_by_id=request.user.pk)
        until = rotated.previous_signing_secret_expires_at
        _show_once(
            request.session,
            app_id,
            [
                {
                    "label": f"New webhook signing secret of “{rotated.name}”",
                    "value": rotated.signing_secret,
                    "note": "The previous secret keeps signing (both signatures are sent) "
                    f"until {until:%b %d, %Y %H:%M} UTC."
                    if until
                    else "",
                }
            ],
        )
        messages.success(request, f"The signing secret of “{rotated.name}” is rotated.")
        return HttpResponseRedirect(_app_url(app_id))


class WebhookReenableView(AdminRequiredMixin, View):
    """``POST …/apps/<id>/channels/<channel_id>/reenable-webhook/``: after the app answered
    410 Gone; its pending deliveries go out again."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, app_id: int, channel_id: int) -> HttpResponse:
        channel = app_channel_get_for_settings(app_id=app_id, channel_id=channel_id)
        if channel.webhook_disabled_at is None:
            messages.info(request, f"The webhook of “{channel.name}” is already enabled.")
        else:
            webhook_reenable(channel=channel)
            messages.success(request, f"The webhook of “{channel.name}” is enabled again.")
        return HttpResponseRedirect(_app_url(app_id))


class DeliveryRedeliverView(AdminRequiredMixin, View):
    """``POST …/apps/<id>/deliveries/<delivery_id>/redeliver/``: sends a failed or cancelled
    delivery again with the same event id."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, app_id: int, delivery_id: int) -> HttpResponse:
        delivery = app_delivery_get_for_settings(app_id=app_id, delivery_id=delivery_id)
        try:
            delivery_redeliver(delivery=delivery)
        except RedeliveryRefused as refused:
            messages.error(request, f"Not redelivered: {refused}")
        else:
            messages.success(
                request,
                f"{delivery.get_event_type_display()} {delivery.event_id} will be sent again.",
            )
        return HttpResponseRedirect(f"{_app_url(app_id)}#channel-{delivery.channel_id}")
