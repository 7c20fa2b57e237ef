"""Reads of custom channels, channel accounts and inboxes, for the API and the settings pages.

Each selector returns a queryset with what its callers render already joined, so a page of any
size costs the same number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from channels_app.capabilities import delivery_identifier_normalise
from channels_app.models import (
    App,
    ChannelAccount,
    CustomChannel,
    DeliveryIdentifierType,
    StagingToken,
)
from routing.models import RoutingRule
from tickets.models import Inbox


def channel_list(*, app: App) -> QuerySet[CustomChannel]:
    """The app's channels that are not archived, oldest first."""
    return CustomChannel.objects.filter(app=app, archived=False).order_by("pk")


def _identifier_value_filter(values: Iterable[str]) -> Q:
    """Matches stored identifiers against values as a client sends them: emails are stored
    lower-cased and phones as E.164, so each value is compared in its type's stored form."""
    values = list(values)
    query = Q(pk__in=[])
    for identifier_type in DeliveryIdentifierType.values:
        forms = {
            normalised
            for value in values
            if (normalised := delivery_identifier_normalise(identifier_type, value)) is not None
        }
        if forms:
            query |= Q(
                delivery_identifier_type=identifier_type, delivery_identifier_value__in=forms
            )
    return query


def channel_account_list(
    *,
    channel: CustomChannel,
    archived: bool = False,
    identifier_types: Iterable[str] = (),
    identifier_values: Iterable[str] = (),
) -> QuerySet[ChannelAccount]:
    """Accounts of one channel, archived or not (HubSpot's ``archived`` filter), optionally
    with one of the given delivery identifier types and/or values. The channel and its app are
    joined, because an account's ``active`` reads them."""
    accounts = ChannelAccount.objects.select_related("channel__app").filter(
        channel=channel, archived=archived
    )
    identifier_types = list(identifier_types)
    identifier_values = list(identifier_values)
    if identifier_types:
        accounts = accounts.filter(delivery_identifier_type__in=identifier_types)
    if identifier_values:
        accounts = accounts.filter(_identifier_value_filter(identifier_values))
    return accounts.order_by("pk")


def inbox_list() -> QuerySet[Inbox]:
    """Every inbox, in creation order (the first is the default for new accounts)."""
    return Inbox.objects.order_by("pk")


def channel_list_for_connect_wizard() -> QuerySet[CustomChannel]:
    """The channels an admin may connect accounts of: not archived, of installed apps (SPEC
    C7: an uninstalled app's channels disappear until it is installed again). The app is
    joined (the wizard shows its name and logo)."""
    return (
        CustomChannel.objects.select_related("app")
        .filter(archived=False, app__installed_at__isnull=False)
        .order_by("name", "pk")
    )


# --- The settings pages ---------------------------------------------------------------------


def channel_account_list_for_settings() -> QuerySet[ChannelAccount]:
    """Connected accounts (not archived) with their channel, app, routing rule and the rule's
    users and teams, oldest first (SPEC C1)."""
    return (
        ChannelAccount.objects.filter(archived=False)
        .select_related("channel__app", "routing_rule")
        .prefetch_related("routing_rule__users", "routing_rule__teams")
        .order_by("created_at", "pk")
    )


def channel_account_get_for_settings(*, account_id: int) -> ChannelAccount:
    """One connected account as the settings pages show it, or ``Http404`` (archived too)."""
    account = channel_account_list_for_settings().filter(pk=account_id).first()
    if account is None:
        raise Http404("No channel account with this id.")
    return account


def channel_get_for_connect_wizard(*, channel_id: int) -> CustomChannel:
    """A channel the wizard may connect (installed app, not archived), or ``Http404``."""
    channel = channel_list_for_connect_wizard().filter(pk=channel_id).first()
    if channel is None:
        raise Http404("No channel with this id can be connected.")
    return channel


def staging_token_get_for_user(*, staging_id: int, user: Any) -> StagingToken:
    """A staging token the user started, with its channel and app, or ``Http404``."""
    staged = (
        StagingToken.objects.select_related("channel__app", "channel_account")
        .filter(pk=staging_id, created_by=user)
        .first()
    )
    if staged is None:
        raise Http404("No connection with this id.")
    return staged


def _user_name(user: Any) -> str:
    return str(user.get_full_name() or user.get_username())


def routing_summary(rule: RoutingRule | None) -> str:
    """One line for the channels list: "None", "Contact owner", or "Specific users and teams:
    Support, Alex" (teams, then users). Reads the rule's prefetched users and teams."""
    if rule is None or not rule.auto_assign or rule.mode == RoutingRule.Mode.NONE:
        return "None"
    names = [team.name for team in rule.teams.all()] + [_user_name(u) for u in rule.users.all()]
    if rule.mode == RoutingRule.Mode.CONTACT_OWNER:
        return "Contact owner" + (f", else {', '.join(names)}" if names else "")
    return f"{RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS.label}: {', '.join(names) or 'nobody'}"
