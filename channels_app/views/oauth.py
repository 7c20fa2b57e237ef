"""The OAuth 2.0 endpoints apps are installed with (API.md "Installing an app (OAuth 2.0)").

- ``GET /oauth/authorize?client_id=&redirect_uri=&scope=&state=``: the consent page, for a
  signed-in admin; approving installs (or re-authorises) the app and redirects to
  ``redirect_uri?code=&state=``, cancelling to ``redirect_uri?error=access_denied&state=``.
- ``POST /oauth/v1/token`` (HubSpot's path, form-encoded): ``authorization_code`` and
  ``refresh_token`` grants → ``{access_token, refresh_token, expires_in, token_type: "bearer"}``.

Both are django-oauth-toolkit's views. What the subclasses add: only admins approve; ``state``
and ``scope`` are required (refused with a page, never a redirect, like a redirect URI that is
not registered); the approval is recorded by ``app_install``; the token endpoint speaks only
the two grants apps use, says ``bearer`` as HubSpot does, and its errors carry RFC 6749's fields
and the API's error shape at once. Nothing here logs a request body.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from oauth2_provider.scopes import get_scopes_backend
from oauth2_provider.views import AuthorizationView, TokenView

from channels_app.installs import app_install, user_can_install_apps
from channels_app.models import App
from helpdesk.api_errors import error_body

SUPPORTED_GRANT_TYPES = ("authorization_code", "refresh_token")

# A sentence for each RFC 6749 error code, for clients that read the API's ``message``.
TOKEN_ERROR_MESSAGES = {
    "invalid_request": "The token request is missing a parameter or repeats one.",
    "invalid_client": "The client_id or client_secret is wrong.",
    "invalid_grant": "The code or refresh token is invalid, expired, revoked or already used.",
    "unauthorized_client": "This app may not use this grant type.",
    "unsupported_grant_type": "grant_type must be authorization_code or refresh_token.",
    "invalid_scope": "The requested scope is invalid.",
}


def _refused(request: HttpRequest, status: int, title: str, explanation: str) -> HttpResponse:
    """A page that says why the consent page cannot be shown; never a redirect."""
    return render(
        request,
        "oauth/refused.html",
        {"title": title, "explanation": explanation},
        status=status,
    )


class AppAuthorizeView(AuthorizationView):
    """``/oauth/authorize``: the consent page (app name, logo, the scopes asked)."""

    template_name = "oauth/authorize.html"
    app: App

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.oauth2_data: dict[str, Any] = {}
        if not request.user.is_authenticated:
            # To settings.LOGIN_URL, back here after signing in.
            return self.handle_no_permission()
        if not user_can_install_apps(request.user):
            return _refused(
                request,
                403,
                "Only an admin can install apps",
                "Ask an admin of this help desk to install or re-authorize this app.",
            )
        params = request.POST if request.method == "POST" else request.GET
        if request.method == "GET" and (
            "response_type" not in params or "approval_prompt" in params
        ):
            # HubSpot's install URLs carry no response_type: the code flow is the only one. And
            # the admin always sees the consent page: the library's approval_prompt=auto, which
            # would skip it for an app holding live tokens, is dropped.
            query = params.copy()
            query.setdefault("response_type", "code")
            query.pop("approval_prompt", None)
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        if not params.get("state"):
            return _refused(
                request,
                400,
                "The app's request has no state",
                "The app must send a 'state' parameter, which protects the installation from "
                "forged requests. Nothing was installed; tell the app's developer.",
            )
        if not params.get("scope", "").split():
            return _refused(
                request,
                400,
                "The app's request names no scopes",
                "The app must say which permissions it asks for ('scope'). Nothing was "
                "installed; tell the app's developer.",
            )
        app = (
            App.objects.select_related("oauth_application")
            .filter(oauth_application__client_id=params.get("client_id", ""))
            .first()
        )
        if app is None:
            return _refused(
                request,
                400,
                "Unknown app",
                "No app with this client_id is registered for OAuth on this help desk.",
            )
        self.app = app
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        descriptions = get_scopes_backend().get_all_scopes()
        context["app"] = self.app
        context["scope_rows"] = [
            {"name": scope, "description": descriptions.get(scope, scope)}
            for scope in context.get("scopes") or []
        ]
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        """Approve: the grant is issued and the app installed in one transaction. Cancel: the
        library redirects with ``error=access_denied``."""
        if not form.cleaned_data.get("allow"):
            return super().form_valid(form)
        self.success_url = None
        with transaction.atomic():
            response = super().form_valid(form)
            # The library sets success_url only when it issued a code.
            if self.success_url:
                app_install(app=self.app, approved_by_id=self.request.user.pk)
        return response


class AppTokenView(TokenView):
    """``POST /oauth/v1/token``: codes and refresh tokens for access tokens.

    Successful answers are the library's (plus ``token_type: "bearer"``, HubSpot's spelling);
    errors keep RFC 6749's ``error``/``error_description`` and add the API's ``status``,
    ``message``, ``correlationId`` and ``category``, so either kind of client understands.
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        grant_type = request.POST.get("grant_type", "")
        if grant_type not in SUPPORTED_GRANT_TYPES:
            return token_error_response(
                400,
                "unsupported_grant_type" if grant_type else "invalid_request",
                "grant_type must be authorization_code or refresh_token.",
            )
        response = super().post(request, *args, **kwargs)
        return _token_response(response)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = token_error_response(
            405, "invalid_request", "The token endpoint accepts POST only."
        )
        response["Allow"] = "POST"
        return response


def token_error_response(status: int, error: str, description: str) -> JsonResponse:
    body = {"error": error, "error_description": description}
    body.update(error_body(status, description))
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _token_response(response: HttpResponse) -> HttpResponse:
    """Rewrites the library's JSON answer into ours, keeping its status and headers."""
    try:
        data = json.loads(response.content)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if response.status_code == 200 and "access_token" in data:
        data["token_type"] = "bearer"  # noqa: S105 - a token type, not a secret
        rewritten = JsonResponse(data, status=200)
    else:
        status = response.status_code if response.status_code >= 400 else 400
        error = str(data.get("error") or "invalid_request")
        description = str(data.get("error_description") or TOKEN_ERROR_MESSAGES.get(error) or error)
        rewritten = token_error_response(status, error, description)
    for name in ("Cache-Control", "Pragma", "WWW-Authenticate"):
        if name in response:
            rewritten[name] = response[name]
    return rewritten
