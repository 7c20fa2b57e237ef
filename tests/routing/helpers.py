"""Builders for the routing tests: reps with profiles, teams, rules, and inbound messages."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from django.utils import timezone

from channels_app.models import ChannelAccount
from routing.models import RepProfile, RoutingRule, Team
from tests.factories import AppFactory, UserFactory
from tests.tickets.factories import channel_with_account
from tickets.publish import PublishResult, message_publish_inbound

Mode = RoutingRule.Mode
_phones = itertools.count(1)


def rep(
    username: str | None = None,
    *,
    availability: str = RepProfile.Availability.AVAILABLE,
    capacity: int | None = None,
    online: bool = False,
    last_assigned_at: datetime | None = None,
    profile: bool = True,
    **user_fields: Any,
) -> Any:
    """A user with a routing profile (``profile=False``: none yet, as a fresh user)."""
    user = UserFactory(**({"username": username} if username else {}), **user_fields)
    user.save()  # The factory sets the password after saving; sessions hash the stored one.
    if profile:
        RepProfile.objects.create(
            user=user,
            availability=availability,
            capacity=capacity,
            last_seen_at=timezone.now() if online else None,
            last_assigned_at=last_assigned_at,
        )
    return user


def team(name: str, *members: Any) -> Team:
    created = Team.objects.create(name=name)
    created.members.set(members)
    return created


def account_with_rule(
    *,
    mode: str = Mode.SPECIFIC_USERS_AND_TEAMS,
    users: tuple[Any, ...] = (),
    teams: tuple[Team, ...] = (),
    auto_assign: bool = True,
) -> ChannelAccount:
    _, account = channel_with_account(AppFactory())
    rule = RoutingRule.objects.create(channel_account=account, mode=mode, auto_assign=auto_assign)
    rule.users.set(users)
    rule.teams.set(teams)
    return account


def inbound(
    account: ChannelAccount,
    *,
    thread: str | None = None,
    text: str = "Hello, my order has not arrived",
    name: str = "Ada Lovelace",
    phone: str | None = None,
    contact_id: int | None = None,
) -> PublishResult:
    """An INCOMING message through the service, as the messages API posts it; a new thread id
    (and so a new ticket) unless ``thread`` is given."""
    number = next(_phones)
    channel = account.channel
    return message_publish_inbound(
        app=channel.app,
        channel=channel,
        account=account,
        direction="INCOMING",
        text=text,
        senders=[
            {
                "deliveryIdentifier": {
                    "type": "HS_PHONE_NUMBER",
                    "value": phone or f"+1555020{number:04d}",
                },
                "name": name,
            }
        ],
        integration_thread_id=thread or f"thread-{number}",
        associate_with_contact_id=contact_id,
    )
