"""Writes of channel accounts: connecting one (with its routing rule), editing, deactivating,
reactivating and deleting it (the app is told by a webhook event), staging tokens (a connection
completed on the app's own page), and the routing rule the settings page edits.

Every function here is the only way its state changes; API views, pages, admin actions and
management commands call these. Apps, tokens and channels are ``channels_app.services``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from channels_app.audit import audit_record
from channels_app.capabilities import (
    InvalidInputError,
    Problems,
    credentials_clean,
    delivery_identifier_clean,
    text_problem,
)
from channels_app.deliveries import channel_account_event_enqueue
from channels_app.models import (
    ChannelAccount,
    CustomChannel,
    Delivery,
    StagingToken,
)
from channels_app.services import generate_secret
from helpdesk.api_errors import NotFound, field_error
from helpdesk.authentication import token_digest
from routing.models import RoutingRule, Team
from tickets.models import (
    Inbox,
    Pipeline,
    PipelineStatus,
    TicketCategory,
    TicketPriority,
    TicketState,
)

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
