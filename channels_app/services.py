"""Writes for apps, tokens and custom channels (channel accounts: ``channels_app.accounts``).

Every function here is the only way its state changes; API views, pages, admin actions and
management commands call these.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from channels_app.audit import audit_record
from channels_app.capabilities import (
    InvalidInputError,
    Problems,
    capabilities_clean,
    connection_fields_clean,
    http_url_problem,
    text_problem,
)
from channels_app.http import WebhookTargetRefused, validate_webhook_url
from channels_app.models import (
    App,
    AppToken,
    AuditEntry,
    CustomChannel,
)
from channels_app.signing import signing_secret_generate
from helpdesk.authentication import ALL_SCOPES, token_digest

STATIC_TOKEN_PREFIX = "pat-hd-"  # noqa: S105 - a prefix, not a secret
DEVELOPER_KEY_PREFIX = "dev-hd-"


def generate_secret(prefix: str = "", nbytes: int = 32) -> str:
    """A random secret of ``nbytes`` bytes (≥128 bits, API.md), URL-safe."""
    return prefix + secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class CreatedApp:
    """The app and the secrets shown once at creation (never readable again, except the client
    secret, which the app's settings page may reveal to an admin)."""

    app: App
    access_token: str
    developer_api_key: str


APP_NAME_MAX_LENGTH = 200
TOKEN_NAME_MAX_LENGTH = 200


def _clean_app_fields(
    problems: Problems, *, name: str, logo_url: str, redirect_uris: list[str]
) -> None:
    """Checks what an admin typed for a new app; paths are the settings form's names."""
    if not name.strip():
        problems.add("name", "must not be blank", "REQUIRED")
    elif len(name.strip()) > APP_NAME_MAX_LENGTH:
        problems.add("name", f"must be at most {APP_NAME_MAX_LENGTH} characters", "TOO_LONG")
    elif text_problem(name):
        problems.add("name", str(text_problem(name)))
    if logo_url and (problem := http_url_problem(logo_url)):
        problems.add("logoUrl", problem)
    for uri in redirect_uris:
        if problem := http_url_problem(uri):
            problems.add("redirectUris", f"{uri}: {problem}")


@transaction.atomic
def app_create(
    *,
    name: str,
    description: str = "",
    logo_url: str = "",
    redirect_uris: Iterable[str] = (),
    created_by_id: int | None = None,
) -> CreatedApp:
    """Creates an app (installed at once) with a client secret, a developer API key and one
    static token, and, given ``redirect_uris``, its OAuth 2.0 client
    (``installs.app_redirect_uris_set``).

    Bad input raises ``InvalidInputError`` (paths ``name``, ``logoUrl``, ``redirectUris``) and
    stores nothing. Given ``created_by_id`` (an admin), records an ``app_create`` audit entry
    (and the initial token's ``token_create``) attributed to them; the entries hold no secret.
    Without it (set-up: the demo seed, fixtures) nothing is recorded.
    """
    from channels_app.installs import app_redirect_uris_set  # installs imports models only

    uris = list(dict.fromkeys(uri.strip() for uri in redirect_uris if uri.strip()))
    problems = Problems()
    _clean_app_fields(problems, name=name, logo_url=logo_url, redirect_uris=uris)
    problems.raise_if_any()
    developer_api_key = generate_secret(DEVELOPER_KEY_PREFIX)
    app = App.objects.create(
        name=name.strip(),
        description=description,
        logo_url=logo_url,
        client_id=secrets.token_hex(16),
        client_secret=generate_secret(),
        developer_api_key_hash=token_digest(developer_api_key),
        created_by_id=created_by_id,
    )
    if uris:
        try:
            app = app_redirect_uris_set(app=app, redirect_uris=uris)
        except ValidationError as error:
            # The OAuth library's own checks (e.g. a scheme it does not allow); the atomic
            # block rolls the app back.
            raise InvalidInputError(
                [
                    {"message": message, "in": "redirectUris", "code": "INVALID_FORMAT"}
                    for message in error.messages
                ]
            ) from error
    if created_by_id is not None:
        audit_record(
            actor_id=created_by_id,
            action=AuditEntry.Action.APP_CREATE,
            target=app.name,
            app_id=app.pk,
            changes={
                "name": app.name,
                "description": description,
                "logoUrl": logo_url,
                "redirectUris": uris,
                "oauth": bool(uris),
            },
        )
    access_token, _ = token_create(app=app, name="Initial token", created_by_id=created_by_id)
    return CreatedApp(app=app, access_token=access_token, developer_api_key=developer_api_key)


def token_target(token: AppToken, app: App) -> str:
    """How the audit log names a token (its name and visible prefix, never the token)."""
    return f"{app.name} · token “{token.name or 'unnamed'}” ({token.prefix}…)"


@transaction.atomic
def token_create(
    *,
    app: App,
    name: str = "",
    scopes: tuple[str, ...] | list[str] = ALL_SCOPES,
    created_by_id: int | None = None,
) -> tuple[str, AppToken]:
    """Issues a static bearer token; returns the plaintext (shown once) and the stored row.

    ``scopes`` must be a non-empty subset of ``ALL_SCOPES`` (``InvalidInputError`` otherwise,
    nothing stored). Given ``created_by_id`` (an admin), records a ``token_create`` audit entry
    attributed to them with the name, prefix and scopes; without it (set-up: the demo seed,
    fixtures) nothing is recorded.
    """
    problems = Problems()
    if len(name) > TOKEN_NAME_MAX_LENGTH:
        problems.add("name", f"must be at most {TOKEN_NAME_MAX_LENGTH} characters", "TOO_LONG")
    elif text_problem(name):
        problems.add("name", str(text_problem(name)))
    if not scopes:
        problems.add("scopes", "choose at least one scope", "REQUIRED")
    elif unknown := sorted(set(scopes) - set(ALL_SCOPES)):
        problems.add("scopes", f"unknown scopes: {', '.join(unknown)}", "INVALID_ENUM")
    problems.raise_if_any()
    plaintext = generate_secret(STATIC_TOKEN_PREFIX)
    token = AppToken.objects.create(
        app=app,
        name=name,
        kind=AppToken.Kind.STATIC,
        token_hash=token_digest(plaintext),
        prefix=plaintext[: len(STATIC_TOKEN_PREFIX) + 4],
        scopes=list(scopes),
        created_by_id=created_by_id,
    )
    if created_by_id is not None:
        audit_record(
            actor_id=created_by_id,
            action=AuditEntry.Action.TOKEN_CREATE,
            target=token_target(token, app),
            app_id=app.pk,
            changes={"tokenName": name, "tokenPrefix": token.prefix, "scopes": list(scopes)},
        )
    return plaintext, token


@transaction.atomic
def token_revoke(*, token: AppToken, revoked_by_id: int | None = None) -> AppToken:
    """Revokes a token; the next call with it gets 401. Revoking twice changes nothing.

    Locks the token row. Given ``revoked_by_id`` (an admin), records a ``token_revoke`` audit
    entry attributed to them when the token was live.
    """
    token = AppToken.objects.select_for_update().select_related("app").get(pk=token.pk)
    changed = token.revoked_at is None
    if changed:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    if changed and revoked_by_id is not None:
        audit_record(
            actor_id=revoked_by_id,
            action=AuditEntry.Action.TOKEN_REVOKE,
            target=token_target(token, token.app),
            app_id=token.app_id,
            changes={"tokenName": token.name, "tokenPrefix": token.prefix, "revoked": True},
        )
    return token


# --- Custom channels -------------------------------------------------------------------------

CHANNEL_NAME_MAX_LENGTH = 200
CHANNEL_DESCRIPTION_MAX_LENGTH = 5000
# For 24 h after a rotation both secrets sign deliveries, so the app can deploy the new one.
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)


def _clean_channel_fields(
    problems: Problems,
    *,
    name: str | None,
    description: str | None,
    urls: dict[str, str | None],
) -> None:
    """Checks the plain fields of a channel (None: not being set). Paths use the API's names."""
    if name is not None:
        if not name.strip():
            problems.add("name", "must not be blank", "REQUIRED")
        elif len(name.strip()) > CHANNEL_NAME_MAX_LENGTH:
            problems.add(
                "name", f"must be at most {CHANNEL_NAME_MAX_LENGTH} characters", "TOO_LONG"
            )
        elif text_problem(name):
            problems.add("name", str(text_problem(name)))
    if description is not None:
        if len(description) > CHANNEL_DESCRIPTION_MAX_LENGTH:
            problems.add(
                "channelDescription",
                f"must be at most {CHANNEL_DESCRIPTION_MAX_LENGTH} characters",
                "TOO_LONG",
            )
        elif text_problem(description):
            problems.add("channelDescription", str(text_problem(description)))
    for path, url in urls.items():
        if url:
            problem = http_url_problem(url)
            if problem:
                problems.add(path, problem)
            elif path == "webhookUrl":
                # Fast feedback only (no DNS): the client checks resolved addresses at send time.
                try:
                    validate_webhook_url(url)
                except WebhookTargetRefused as refused:
                    problems.add(path, str(refused), "NOT_ALLOWED")


@transaction.atomic
def channel_create(
    *,
    app: App,
    name: str,
    capabilities: Any,
    webhook_url: str = "",
    account_connection_redirect_url: str = "",
    description: str = "",
    logo_url: str = "",
    connection_fields: Any = None,
) -> CustomChannel:
    """Registers a custom channel of ``app`` with a fresh ``whsec_`` signing secret.

    ``capabilities`` and ``connection_fields`` are raw JSON, validated and normalised here
    (``InvalidInputError`` lists every problem; nothing is stored then). The returned channel's
    ``signing_secret`` is the plaintext the API shows this once.
    """
    problems = Problems()
    _clean_channel_fields(
        problems,
        name=name,
        description=description,
        urls={
            "webhookUrl": webhook_url,
            "channelAccountConnectionRedirectUrl": account_connection_redirect_url,
            "channelLogoUrl": logo_url,
        },
    )
    cleaned_capabilities: dict[str, Any] = {}
    cleaned_fields: list[dict[str, Any]] = []
    try:
        cleaned_capabilities = capabilities_clean(capabilities)
    except InvalidInputError as error:
        problems.errors.extend(error.errors)
    try:
        cleaned_fields = connection_fields_clean(connection_fields)
    except InvalidInputError as error:
        problems.errors.extend(error.errors)
    problems.raise_if_any()

    return CustomChannel.objects.create(
        app=app,
        name=name.strip(),
        description=description,
        logo_url=logo_url,
        webhook_url=webhook_url,
        account_connection_redirect_url=account_connection_redirect_url,
        capabilities=cleaned_capabilities,
        connection_fields=cleaned_fields,
        signing_secret=signing_secret_generate(),
    )


@transaction.atomic
def channel_update(
    *,
    channel: CustomChannel,
    name: str | None = None,
    capabilities: Any = None,
    webhook_url: str | None = None,
    account_connection_redirect_url: str | None = None,
    description: str | None = None,
    logo_url: str | None = None,
    connection_fields: Any = None,
) -> CustomChannel:
    """Changes the given fields of a channel; ``None`` leaves a field as it is (HubSpot's SDKs
    send ``null`` for every field the caller left out). ``capabilities`` and
    ``connection_fields`` replace the stored value as a whole. Locks the channel row.

    Changed capabilities apply to messages from now on; existing messages are not re-checked.
    """
    problems = Problems()
    _clean_channel_fields(
        problems,
        name=name,
        description=description,
        urls={
            "webhookUrl": webhook_url,
            "channelAccountConnectionRedirectUrl": account_connection_redirect_url,
            "channelLogoUrl": logo_url,
        },
    )
    cleaned_capabilities: dict[str, Any] | None = None
    cleaned_fields: list[dict[str, Any]] | None = None
    if capabilities is not None:
        try:
            cleaned_capabilities = capabilities_clean(capabilities)
        except InvalidInputError as error:
            problems.errors.extend(error.errors)
    if connection_fields is not None:
        try:
            cleaned_fields = connection_fields_clean(connection_fields)
        except InvalidInputError as error:
            problems.errors.extend(error.errors)
    problems.raise_if_any()

    channel = CustomChannel.objects.select_for_update().get(pk=channel.pk)
    changes: dict[str, Any] = {
        "name": name.strip() if name is not None else None,
        "description": description,
        "logo_url": logo_url,
        "webhook_url": webhook_url,
        "account_connection_redirect_url": account_connection_redirect_url,
        "capabilities": cleaned_capabilities,
        "connection_fields": cleaned_fields,
    }
    changed = [field for field, value in changes.items() if value is not None]
    for field in changed:
        setattr(channel, field, changes[field])
    if changed:
        channel.save(update_fields=[*changed, "updated_at"])
    return channel


@transaction.atomic
def channel_archive(*, channel: CustomChannel) -> CustomChannel:
    """Archives a channel (the API's DELETE): it disappears from the API and its accounts stop
    accepting messages (``ChannelAccount.active`` reads the channel). Accounts and history are
    kept. Archiving twice changes nothing."""
    channel = CustomChannel.objects.select_for_update().get(pk=channel.pk)
    if not channel.archived:
        channel.archived = True
        channel.archived_at = timezone.now()
        channel.save(update_fields=["archived", "archived_at", "updated_at"])
    return channel


@transaction.atomic
def signing_secret_rotate(
    *, channel: CustomChannel, rotated_by_id: int | None = None
) -> CustomChannel:
    """Issues a new webhook signing secret; the current one keeps signing for 24 h.

    Locks the channel row, so two rotations in a row keep the secret of the second-to-last.
    The returned channel's ``signing_secret`` is the new plaintext (shown once). Always records
    a ``secret_rotate`` audit entry (no secret in it), attributed to ``rotated_by_id``: an admin
    on the apps page, or None when the app rotates its own secret through the API.
    """
    channel = CustomChannel.objects.select_for_update().get(pk=channel.pk)
    channel.previous_signing_secret = channel.signing_secret
    channel.previous_signing_secret_expires_at = timezone.now() + PREVIOUS_SECRET_LIFETIME
    channel.signing_secret = signing_secret_generate()
    channel.save(
        update_fields=[
            "signing_secret",
            "previous_signing_secret",
            "previous_signing_secret_expires_at",
            "updated_at",
        ]
    )
    audit_record(
        actor_id=rotated_by_id,
        action=AuditEntry.Action.SECRET_ROTATE,
        target=channel.name,
        app_id=channel.app_id,
        channel_id=channel.pk,
        changes={
            "previousSecretValidUntil": channel.previous_signing_secret_expires_at.isoformat(),
            "by": "admin" if rotated_by_id is not None else "app",
        },
    )
    return channel
