"""The audit log (SPEC O4): every change made through the settings pages is listed, newest
first, filterable, without credentials, at a constant query count."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from channels_app.audit import audit_record
from channels_app.models import AuditEntry
from tests.channels_app.settings_helpers import (
    AUDIT_LOG,
    CHANNELS,
    credentials_channel,
    post,
    routing_data,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONNECT = f"{CHANNELS}connect/"


def test_each_action_through_the_pages_is_listed_newest_first(admin_browser: Client) -> None:
    channel = credentials_channel()
    post(admin_browser, f"{CONNECT}{channel.pk}/")
    post(admin_browser, f"{CONNECT}{channel.pk}/credentials/", {
        "account_name": "Line", "credential__api_key": "top-secret"
    })  # fmt: skip
    post(admin_browser, f"{CONNECT}{channel.pk}/routing/", routing_data())
    account_id = AuditEntry.objects.get().channel_account_id
    post(
        admin_browser,
        f"{CHANNELS}{account_id}/edit/",
        routing_data(auto_assign="on", mode="CONTACT_OWNER"),
    )
    post(admin_browser, f"{CHANNELS}{account_id}/deactivate/")
    post(admin_browser, f"{CHANNELS}{account_id}/reactivate/")
    post(admin_browser, f"{CHANNELS}{account_id}/delete/")

    html = admin_browser.get(AUDIT_LOG).content.decode()

    labels = ["Deleted", "Reactivated", "Deactivated", "Edited", "Connected"]
    positions = [html.index(f"<td>{label}</td>") for label in labels]
    assert positions == sorted(positions)
    assert html.count("Acme SMS · Line") == 5
    assert "top-secret" not in html
    user = AuditEntry.objects.first().actor  # type: ignore[union-attr]
    assert user is not None
    assert user.get_username() in html


def test_the_filters_narrow_the_log(admin_browser: Client) -> None:
    channel = credentials_channel()
    other = credentials_channel(name="Other")
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    audit_record(actor_id=alice.pk, action="connect", target="A", channel_id=channel.pk)
    audit_record(actor_id=bob.pk, action="delete", target="B", channel_id=channel.pk)
    audit_record(actor_id=bob.pk, action="token_revoke", target="C", channel_id=other.pk)

    def targets(**query: Any) -> list[str]:
        html = admin_browser.get(AUDIT_LOG, query).content.decode()
        return [target for target in ("A", "B", "C") if f"<td>{target}</td>" in html]

    assert targets() == ["A", "B", "C"]
    assert targets(action="delete") == ["B"]
    assert targets(channel=channel.pk) == ["A", "B"]
    assert targets(actor=bob.pk) == ["B", "C"]
    assert targets(actor=bob.pk, channel=channel.pk) == ["B"]
    assert (
        "No changes recorded with these filters"
        in admin_browser.get(AUDIT_LOG, {"action": "secret_rotate"}).content.decode()
    )


def test_credentials_and_secrets_are_never_recorded() -> None:
    entry = audit_record(
        actor_id=None,
        action="token_create",
        target="T",
        changes={"name": "ci", "token": "pat-1", "nested": {"credentials": {"k": "v"}}},
    )
    assert entry.changes == {"name": "ci", "nested": {}}
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record(actor_id=None, action="explode", target="T")


@pytest.mark.parametrize("entries", [1, 20])
def test_the_log_costs_the_same_queries_for_1_and_20_entries(
    admin_browser: Client, django_assert_num_queries: Any, entries: int
) -> None:
    channel = credentials_channel()
    actor = UserFactory()
    for number in range(entries):
        audit_record(actor_id=actor.pk, action="edit", target=f"T{number}", channel_id=channel.pk)
    admin_browser.get(AUDIT_LOG)

    # session, user, role check, the filters' channel and actor options, count (paginator),
    # entries (+actor, channel)
    with django_assert_num_queries(7):
        response = admin_browser.get(AUDIT_LOG)
    assert response.content.decode().count('data-action="edit"') == entries
