"""Installing apps (SPEC C7): OAuth 2.0 registration, install on consent, uninstall.

An app is *installed* while ``App.installed_at`` is set. Apps created by an admin are installed
at once (private-app style, ``App.installed_at`` defaults to now); an app that uses OAuth is
installed again whenever an admin approves its consent page. Uninstalling revokes every token
of the app (static and OAuth) and hides its channels from the connect wizard; its channels and
channel accounts are kept, so approving the consent page again ("re-authorise") brings them
back as they were.

The OAuth 2.0 server itself is django-oauth-toolkit: each app that registers redirect URIs gets
one ``oauth2_provider.Application`` with the app's client id and a hashed copy of its client
secret (``App.oauth_application``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)

from channels_app.audit import audit_record
from channels_app.models import App, AppToken, AuditEntry
from routing.availability import rep_is_admin


def user_can_install_apps(user: Any) -> bool:
    """Admins approve installs (``routing.availability.rep_is_admin``)."""
    return rep_is_admin(user)


@transaction.atomic
def app_redirect_uris_set(*, app: App, redirect_uris: Iterable[str]) -> App:
    """Registers the URIs the consent page may send codes to (exact match), creating the app's
    OAuth client on first use. Raises ``ValidationError`` (nothing stored) for a URI that is
    not an absolute http(s) URL, or for an empty list.

    Lock: the app row, so two registrations cannot create two clients.
    """
    uris = list(dict.fromkeys(uri.strip() for uri in redirect_uris if uri.strip()))
    if not uris:
        raise ValidationError("An app that uses OAuth needs at least one redirect URI.")
    app = App.objects.select_for_update().get(pk=app.pk)
    application = app.oauth_application
    if application is None:
        application = get_application_model()(
            client_id=app.client_id,
            # Hashed on save (hash_client_secret); the app keeps its encrypted copy for signing.
            client_secret=app.client_secret,
            hash_client_secret=True,
            client_type=AbstractApplication.CLIENT_CONFIDENTIAL,
            authorization_grant_type=AbstractApplication.GRANT_AUTHORIZATION_CODE,
        )
    application.name = app.name
    application.redirect_uris = " ".join(uris)
    try:
        application.full_clean(exclude=["client_secret", "user"])
    except ValidationError as error:
        raise ValidationError(_messages(error)) from error
    application.save()
    if app.oauth_application_id != application.pk:
        app.oauth_application = application
        app.save(update_fields=["oauth_application", "updated_at"])
    return app


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [
            f"{field}: {message}"
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return list(error.messages)


@transaction.atomic
def app_install(*, app: App, approved_by_id: int) -> App:
    """Records an admin's approval of the consent page: installs the app, or re-authorises it
    when it is installed already. Channels, channel accounts and the tokens issued so far are
    untouched; the grant itself is issued by the OAuth server in the same transaction.

    Lock: the app row (an uninstall running at the same time goes first or second, not halfway).
    """
    app = App.objects.select_for_update().get(pk=app.pk)
    now = timezone.now()
    fields = ["authorized_at", "authorized_by", "updated_at"]
    if app.installed_at is None:
        app.installed_at = now
        fields.append("installed_at")
    app.authorized_at = now
    app.authorized_by_id = approved_by_id
    app.save(update_fields=fields)
    return app


@transaction.atomic
def app_uninstall(*, app: App, uninstalled_by_id: int | None = None) -> App:
    """Uninstalls the app: revokes every token (static tokens, OAuth access and refresh tokens,
    unused authorization codes), so each of them gets 401 from the next request on, and hides
    its channels from the connect wizard. Channels and accounts stay (an account of an
    uninstalled app is inactive). Uninstalling twice changes nothing more.

    Lock: the app row, then its tokens (updates/deletes by app). Given ``uninstalled_by_id``
    (an admin), records an ``app_uninstall`` audit entry attributed to them, with how many
    static tokens were revoked, when the app was installed.
    """
    app = App.objects.select_for_update().get(pk=app.pk)
    now = timezone.now()
    revoked = AppToken.objects.filter(app=app, revoked_at__isnull=True).update(revoked_at=now)
    if app.oauth_application_id is not None:
        application_id = app.oauth_application_id
        get_grant_model().objects.filter(application_id=application_id).delete()
        get_refresh_token_model().objects.filter(
            application_id=application_id, revoked__isnull=True
        ).update(revoked=now, updated=now)
        get_access_token_model().objects.filter(application_id=application_id).delete()
    was_installed = app.installed_at is not None
    if was_installed:
        app.installed_at = None
        app.uninstalled_at = now
        app.save(update_fields=["installed_at", "uninstalled_at", "updated_at"])
    if was_installed and uninstalled_by_id is not None:
        audit_record(
            actor_id=uninstalled_by_id,
            action=AuditEntry.Action.APP_UNINSTALL,
            target=app.name,
            app_id=app.pk,
            changes={"installed": False, "tokensRevoked": revoked},
        )
    return app
