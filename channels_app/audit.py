"""The audit log of channel connections, edits, deactivations, deletions, token changes,
signing-secret rotations and app creations and uninstalls (SPEC O4): writing an entry and
reading the log.

``audit_record`` is called in the transaction of the change it records (by the settings pages
right after the service returns, or by the service itself: ``app_create``, ``token_create``,
``token_revoke``, ``app_uninstall`` and ``routing_rule_update`` record their own entries when
given the acting user's id, and ``signing_secret_rotate`` always does (no actor: the app
rotated its own secret through the API), so the API and the pages share them), so a
rolled-back change leaves no entry. Entries never hold credentials or
secrets: ``changes`` is scrubbed of them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from channels_app.models import AuditEntry

# Keys whose values are secret wherever they appear in ``changes``.
_SECRET_KEYS = frozenset(
    {
        "credentials",
        "secret",
        "signing_secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "password",
        # The API's camelCase names, lower-cased as they are compared.
        "clientsecret",
        "accesstoken",
        "webhooksigningsecret",
        "developerapikey",
        "developer_api_key",
    }
)


def _scrubbed(value: Any) -> Any:
    """``value`` without any secret key, at any depth."""
    if isinstance(value, dict):
        return {
            str(key): _scrubbed(item)
            for key, item in value.items()
            if str(key).lower() not in _SECRET_KEYS
        }
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    return value


def audit_record(
    *,
    actor_id: int | None,
    action: str,
    target: str,
    app_id: int | None = None,
    channel_id: int | None = None,
    channel_account_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Records one change. Call it inside the transaction of the change (no lock taken)."""
    if action not in AuditEntry.Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    return AuditEntry.objects.create(
        actor_id=actor_id,
        action=action,
        target=target[:500],
        app_id=app_id,
        channel_id=channel_id,
        channel_account_id=channel_account_id,
        changes=_scrubbed(changes or {}),
    )


def audit_entry_list(
    *, action: str = "", channel_id: int | None = None, actor_id: int | None = None
) -> QuerySet[AuditEntry]:
    """The log, newest first, optionally of one action, channel or actor; the actor and the
    channel are joined (the page shows their names)."""
    entries = AuditEntry.objects.select_related("actor", "channel")
    if action:
        entries = entries.filter(action=action)
    if channel_id is not None:
        entries = entries.filter(channel_id=channel_id)
    if actor_id is not None:
        entries = entries.filter(actor_id=actor_id)
    return entries.order_by("-created_at", "-id")
