"""Writes for apps, tokens, custom channels and channel accounts.

Every function here is the only way its state changes; API views, pages, admin actions and
management commands call these.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from channels_app.audit import audit_record
from channels_app.capabilities import (
    InvalidInputError,
    Problems,
    capabilities_clean,
    connection_fields_clean,
    credentials_clean,
    delivery_identifier_clean,
    http_url_problem,
    text_problem,
)
from channels_app.deliveries import channel_account_event_enqueue
from channels_app.http import WebhookTargetRefused, validate_webhook_url
from channels_app.models import (
    App,
    AppToken,
    AuditEntry,
    ChannelAccount,
    CustomChannel,
    Delivery,
    StagingToken,
)
from channels_app.signing import signing_secret_generate
from helpdesk.api_errors import NotFound, field_error
from helpdesk.authentication import ALL_SCOPES, token_digest
from routing.models import RoutingRule, Team
from tickets.models import (
    Inbox,
    Pipeline,
    PipelineStatus,
    TicketCategory,
    TicketPriority,
    TicketState,
)

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


# --- Channel accounts ------------------------------------------------------------------------

CHANNEL_ACCOUNT_NAME_MAX_LENGTH = 200


@dataclass(frozen=True)
class RoutingOptions:
    """What the connect wizard's routing step chose; becomes the account's ``RoutingRule``.

    ``pipeline_id`` None means the default pipeline; ``starting_status_id`` None its first
    status. Kept in a staging token's ``wizard_state`` as ``to_state()`` (ids only, never
    credentials).
    """

    pipeline_id: int | None = None
    starting_status_id: int | None = None
    priority: str = ""
    category: str = ""
    name_template: str = RoutingRule.DEFAULT_NAME_TEMPLATE
    auto_assign: bool = False
    mode: str = RoutingRule.Mode.NONE
    user_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()

    def to_state(self) -> dict[str, Any]:
        state = asdict(self)
        state["user_ids"] = list(self.user_ids)
        state["team_ids"] = list(self.team_ids)
        return state

    @classmethod
    def from_state(cls, state: Any) -> RoutingOptions:
        """Reads ``to_state()`` back; unknown keys are dropped (state written by an older
        version), and the values are validated again when the account is connected."""
        if not isinstance(state, dict):
            return cls()
        known = {field.name for field in fields(cls)}
        values = {key: value for key, value in state.items() if key in known}
        for key in ("user_ids", "team_ids"):
            if key in values:
                values[key] = tuple(values[key] or ())
        return cls(**values)


def _routing_rule_values(routing: RoutingOptions, *, path: str = "routing") -> dict[str, Any]:
    """Resolves and checks the routing options; returns the ``RoutingRule`` field values and
    the users and teams (``users``, ``teams``) to link."""
    problems = Problems()
    pipeline: Pipeline | None
    if routing.pipeline_id is None:
        pipeline = Pipeline.objects.filter(is_default=True).first()
    else:
        pipeline = Pipeline.objects.filter(pk=routing.pipeline_id).first()
        if pipeline is None:
            problems.add(f"{path}.pipelineId", "no pipeline with this id", "OBJECT_NOT_FOUND")
    status: PipelineStatus | None = None
    if pipeline is not None:
        statuses = pipeline.statuses.order_by("display_order", "id")
        if routing.starting_status_id is None:
            status = statuses.filter(state=TicketState.OPEN).first()
        else:
            status = statuses.filter(pk=routing.starting_status_id).first()
            if status is None:
                problems.add(
                    f"{path}.startingStatusId", "is not a status of the pipeline", "INVALID_ENUM"
                )
            elif status.state != TicketState.OPEN:
                problems.add(f"{path}.startingStatusId", "must be an open status")
    if routing.priority and routing.priority not in TicketPriority.values:
        problems.add(f"{path}.priority", "is not a ticket priority", "INVALID_ENUM")
    if routing.category and routing.category not in TicketCategory.values:
        problems.add(f"{path}.category", "is not a ticket category", "INVALID_ENUM")
    if routing.mode not in RoutingRule.Mode.values:
        problems.add(f"{path}.mode", "is not a routing mode", "INVALID_ENUM")
    template = routing.name_template.strip()
    if not template or len(template) > 300:
        problems.add(f"{path}.nameTemplate", "must be 1 to 300 characters")
    user_model = get_user_model()
    users = list(user_model.objects.filter(pk__in=routing.user_ids, is_active=True))
    if len(users) != len(set(routing.user_ids)):
        problems.add(f"{path}.userIds", "names a user that does not exist", "OBJECT_NOT_FOUND")
    teams = list(Team.objects.filter(pk__in=routing.team_ids))
    if len(teams) != len(set(routing.team_ids)):
        problems.add(f"{path}.teamIds", "names a team that does not exist", "OBJECT_NOT_FOUND")
    problems.raise_if_any()
    return {
        "pipeline": pipeline,
        "starting_status": status,
        "priority": routing.priority,
        "category": routing.category,
        "name_template": template,
        "auto_assign": routing.auto_assign,
        "mode": routing.mode,
        "users": users,
        "teams": teams,
    }


def _inbox_for_connect(inbox_id: int | None) -> Inbox:
    if inbox_id is None:
        inbox = Inbox.objects.order_by("id").first()
        if inbox is None:
            raise field_error("inboxId", "the help desk has no inbox yet", "OBJECT_NOT_FOUND")
        return inbox
    inbox = Inbox.objects.filter(pk=inbox_id).first()
    if inbox is None:
        raise field_error("inboxId", "no inbox with this id", "OBJECT_NOT_FOUND")
    return inbox


def _clean_account_name(problems: Problems, name: str, path: str) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        problems.add(path, "must not be blank", "REQUIRED")
    elif len(text) > CHANNEL_ACCOUNT_NAME_MAX_LENGTH:
        problems.add(
            path, f"must be at most {CHANNEL_ACCOUNT_NAME_MAX_LENGTH} characters", "TOO_LONG"
        )
    elif text_problem(text):
        problems.add(path, str(text_problem(text)))
    return text


@transaction.atomic
def channel_account_connect(
    *,
    channel: CustomChannel,
    name: str,
    inbox_id: int | None = None,
    authorized: bool = True,
    delivery_identifier: Any = None,
    credentials: Any = None,
    routing: RoutingOptions | None = None,
    created_by_id: int | None = None,
    name_path: str = "name",
) -> ChannelAccount:
    """Connects an account of ``channel``: the account, its encrypted credentials and its
    routing rule, and the ``CHANNEL_ACCOUNT_CREATED`` event, in one transaction.

    ``delivery_identifier`` is raw ``{type, value}`` (or None), checked against the channel's
    ``deliveryIdentifierTypes`` and normalised. ``credentials`` None means none were collected
    (an app creating its own account through the API holds them itself); a dict is checked
    against the channel's connection fields (``credentials_clean``). ``inbox_id`` None means
    the first inbox; ``routing`` None means no auto-assignment, the default pipeline and its
    first open status. Raises ``InvalidInputError``/``ApiError`` (400) before writing anything.
    """
    problems = Problems()
    clean_name = _clean_account_name(problems, name, name_path)
    identifier: tuple[str, str] | None = None
    clean_credentials: dict[str, str] = {}
    try:
        identifier = delivery_identifier_clean(
            delivery_identifier,
            allowed_types=channel.capabilities.get("deliveryIdentifierTypes") or (),
        )
    except InvalidInputError as error:
        problems.errors.extend(error.errors)
    if credentials is not None:
        try:
            clean_credentials = credentials_clean(
                connection_fields=channel.connection_fields, credentials=credentials
            )
        except InvalidInputError as error:
            problems.errors.extend(error.errors)
    problems.raise_if_any()
    inbox = _inbox_for_connect(inbox_id)
    rule_values = _routing_rule_values(routing or RoutingOptions())

    account = ChannelAccount.objects.create(
        channel=channel,
        inbox=inbox,
        name=clean_name,
        delivery_identifier_type=identifier[0] if identifier else "",
        delivery_identifier_value=identifier[1] if identifier else "",
        authorized=authorized,
        # EncryptedJSONField subclasses TextField, so the stubs expect a string.
        credentials=clean_credentials,  # type: ignore[misc]
        created_by_id=created_by_id,
    )
    users = rule_values.pop("users")
    teams = rule_values.pop("teams")
    rule = RoutingRule.objects.create(channel_account=account, **rule_values)
    if users:
        rule.users.set(users)
    if teams:
        rule.teams.set(teams)
    channel_account_event_enqueue(
        account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_CREATED
    )
    return account


def _lock_account(account: ChannelAccount) -> ChannelAccount:
    return ChannelAccount.objects.select_for_update().select_related("channel").get(pk=account.pk)


@transaction.atomic
def channel_account_update(
    *, account: ChannelAccount, name: str | None = None, authorized: bool | None = None
) -> ChannelAccount:
    """The API's PATCH: renames and/or (de)authorizes; ``None`` leaves a field unchanged.

    ``authorized`` False deactivates (inbound messages refused with 409, replies disabled),
    True reactivates. Locks the account; one ``CHANNEL_ACCOUNT_UPDATED`` event if anything
    changed.
    """
    problems = Problems()
    clean_name = _clean_account_name(problems, name, "name") if name is not None else None
    problems.raise_if_any()
    account = _lock_account(account)
    changed: list[str] = []
    if clean_name is not None and clean_name != account.name:
        account.name = clean_name
        changed.append("name")
    if authorized is not None and authorized != account.authorized:
        account.authorized = authorized
        changed.append("authorized")
    if changed:
        account.save(update_fields=[*changed, "updated_at"])
        channel_account_event_enqueue(
            account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_UPDATED
        )
    return account


@transaction.atomic
def channel_account_deactivate(*, account: ChannelAccount) -> ChannelAccount:
    """Deactivates an account (``authorized`` False): inbound messages get 409 and reps cannot
    reply. Idempotent; one ``CHANNEL_ACCOUNT_UPDATED`` event when it changes."""
    return channel_account_update(account=account, authorized=False)


@transaction.atomic
def channel_account_reactivate(*, account: ChannelAccount) -> ChannelAccount:
    """Undoes ``channel_account_deactivate``. Idempotent."""
    return channel_account_update(account=account, authorized=True)


@transaction.atomic
def channel_account_delete(*, account: ChannelAccount) -> ChannelAccount:
    """Deletes an account as the settings page does: archived (the API answers 404 for it),
    history kept, ``CHANNEL_ACCOUNT_PURGED`` sent. Deleting twice changes nothing."""
    account = _lock_account(account)
    if not account.archived:
        account.archived = True
        account.archived_at = timezone.now()
        account.save(update_fields=["archived", "archived_at", "updated_at"])
        channel_account_event_enqueue(
            account=account, event_type=Delivery.EventType.CHANNEL_ACCOUNT_PURGED
        )
    return account


# --- Staging tokens (connections completed by the app's own page) ---------------------------

STAGING_TOKEN_PREFIX = "stg-hd-"  # noqa: S105 - a prefix, not a secret
STAGING_TOKEN_LIFETIME = timedelta(hours=1)


@transaction.atomic
def staging_token_create(
    *,
    channel: CustomChannel,
    inbox_id: int | None = None,
    routing: RoutingOptions | None = None,
    created_by_id: int | None = None,
) -> tuple[str, StagingToken]:
    """Starts a connection that the app's page (``channelAccountConnectionRedirectUrl``)
    completes. Returns the plaintext token (it travels in the redirect URL; only its SHA-256 is
    stored) and the row, valid for one hour. The routing choices are checked now, so the
    wizard fails before sending the admin away, and kept in ``wizard_state``.
    """
    inbox = _inbox_for_connect(inbox_id)
    routing = routing or RoutingOptions()
    _routing_rule_values(routing)
    plaintext = generate_secret(STAGING_TOKEN_PREFIX)
    token = StagingToken.objects.create(
        channel=channel,
        inbox=inbox,
        token_hash=token_digest(plaintext),
        created_by_id=created_by_id,
        wizard_state={"routing": routing.to_state()},
        expires_at=timezone.now() + STAGING_TOKEN_LIFETIME,
    )
    return plaintext, token


@transaction.atomic
def staging_token_complete(
    *, channel: CustomChannel, token: str, account_name: str, delivery_identifier: Any
) -> tuple[StagingToken, ChannelAccount]:
    """Completes a staged connection: connects the account with the wizard's choices and marks
    the token used. An unknown, expired, already used token, or one of another channel, is
    ``NotFound`` (404): a second completion finds nothing to complete. The token row is
    locked, so two concurrent completions create one account.
    """
    staged = (
        StagingToken.objects.select_for_update()
        .filter(
            token_hash=token_digest(token),
            channel=channel,
            completed_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if staged is None:
        raise NotFound("No pending connection with this account token.")
    account = channel_account_connect(
        channel=channel,
        name=account_name,
        inbox_id=staged.inbox_id,
        delivery_identifier=delivery_identifier,
        routing=RoutingOptions.from_state(staged.wizard_state.get("routing")),
        created_by_id=staged.created_by_id,
        name_path="accountName",
    )
    staged.account_name = account.name
    staged.channel_account = account
    staged.completed_at = timezone.now()
    staged.save(update_fields=["account_name", "channel_account", "completed_at"])
    return staged, account


# --- Routing rules (the settings page's Edit) --------------------------------------------------


def routing_options_of(rule: RoutingRule | None) -> RoutingOptions:
    """The options a stored rule holds, as the routing step shows them (``users`` and ``teams``
    are read: prefetch them for many rules)."""
    if rule is None:
        return RoutingOptions()
    return RoutingOptions(
        pipeline_id=rule.pipeline_id,
        starting_status_id=rule.starting_status_id,
        priority=rule.priority,
        category=rule.category,
        name_template=rule.name_template,
        auto_assign=rule.auto_assign,
        mode=rule.mode,
        user_ids=tuple(sorted(user.pk for user in rule.users.all())),
        team_ids=tuple(sorted(team.pk for team in rule.teams.all())),
    )


@transaction.atomic
def routing_rule_update(
    *, account: ChannelAccount, routing: RoutingOptions, updated_by_id: int | None = None
) -> RoutingRule:
    """Replaces the routing rule of ``account`` (ticket properties, auto-assignment, users and
    teams) with ``routing``, checked as ``channel_account_connect`` checks it
    (``InvalidInputError`` before writing anything). Affects new tickets only.

    Locks the account row, then its rule. Records an ``edit`` audit entry with the changed
    options when anything changed, attributed to ``updated_by_id``.
    """
    from channels_app.audit import audit_record  # audit imports models only; kept local

    rule_values = _routing_rule_values(routing)
    account = _lock_account(account)
    rule = RoutingRule.objects.select_for_update().filter(channel_account=account).first()
    before = routing_options_of(rule).to_state() if rule is not None else {}
    users = rule_values.pop("users")
    teams = rule_values.pop("teams")
    if rule is None:
        rule = RoutingRule.objects.create(channel_account=account, **rule_values)
    else:
        for field, value in rule_values.items():
            setattr(rule, field, value)
        rule.save()
    rule.users.set(users)
    rule.teams.set(teams)
    after = routing_options_of(rule).to_state()
    changed = {
        key: {"from": before.get(key), "to": value}
        for key, value in after.items()
        if before.get(key) != value
    }
    if changed:
        audit_record(
            actor_id=updated_by_id,
            action="edit",
            target=f"{account.channel.name} · {account.name}",
            app_id=account.channel.app_id,
            channel_id=account.channel_id,
            channel_account_id=account.pk,
            changes={"routing": changed},
        )
    return rule
