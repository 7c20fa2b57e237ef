"""Reads of custom channels, channel accounts and inboxes, for the API and the settings pages.

Each selector returns a queryset with what its callers render already joined, so a page of any
size costs the same number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from channels_app.capabilities import delivery_identifier_normalise
from channels_app.models import App, ChannelAccount, CustomChannel, DeliveryIdentifierType
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
