"""Reads of custom channels, channel accounts and inboxes, for the API and the settings pages.

Each selector returns a queryset with what its callers render already joined, so a page of any
size costs the same number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from channels_app.capabilities import delivery_identifier_normalise
from channels_app.models import (
    App,
    AppToken,
    ChannelAccount,
    CustomChannel,
    Delivery,
    DeliveryIdentifierType,
    StagingToken,
)
from helpdesk.sql import ModelColumns
from helpdesk.users import user_display_name
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


_ACCOUNT_COLUMNS = ModelColumns(ChannelAccount, "a")
_CHANNEL_COLUMNS = ModelColumns(CustomChannel, "c")
_ACCOUNT_FOR_PUBLISH_SQL = (
    f"SELECT {_ACCOUNT_COLUMNS.sql}, {_CHANNEL_COLUMNS.sql}"  # noqa: S608
    f" FROM {_ACCOUNT_COLUMNS.table} a JOIN {_CHANNEL_COLUMNS.table} c ON c.id = a.channel_id"
    " WHERE a.id = %s AND a.archived = %s AND a.channel_id = %s"
    " AND c.app_id = %s AND c.archived = %s"
)


def channel_account_get_for_publish(
    *, app: App, channel_id: int, account_id: int
) -> ChannelAccount | None:
    """The account a message is published on, with its channel, in one query: an account of
    the app's channel ``channel_id``, neither of them archived; None otherwise (the same
    ownership as ``access_channel_by_id`` and ``access_channel_account_by_id`` together, which
    tell the caller which of the two is missing). ``account.channel.app`` is ``app``."""
    # SQL (``helpdesk.sql``): every message posted runs this, and the ORM's query would cost
    # several times as much CPU to build as the database takes to answer it.
    with connection.cursor() as cursor:
        cursor.execute(_ACCOUNT_FOR_PUBLISH_SQL, [account_id, False, channel_id, app.pk, False])
        row = cursor.fetchone()
    if row is None:
        return None
    account = _ACCOUNT_COLUMNS.instance(row)
    channel = _CHANNEL_COLUMNS.instance(row, len(_ACCOUNT_COLUMNS))
    channel.app = app  # known already: reading it (account.active) costs no query
    account.channel = channel
    return account


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


def routing_summary(rule: RoutingRule | None) -> str:
    """One line for the channels list: "None", "Contact owner", or "Specific users and teams:
    Support, Alex" (teams, then users). Reads the rule's prefetched users and teams."""
    if rule is None or not rule.auto_assign or rule.mode == RoutingRule.Mode.NONE:
        return "None"
    names = [team.name for team in rule.teams.all()] + [
        user_display_name(u) for u in rule.users.all()
    ]
    if rule.mode == RoutingRule.Mode.CONTACT_OWNER:
        return "Contact owner" + (f", else {', '.join(names)}" if names else "")
    return f"{RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS.label}: {', '.join(names) or 'nobody'}"


# --- The apps settings pages (SPEC C5) -------------------------------------------------------

# The app page shows each channel's most recent deliveries; older ones are in the admin.
APP_PAGE_RECENT_DELIVERIES = 20


def app_list_for_settings() -> QuerySet[App]:
    """Every app, by name, with who created or approved it, and ``channel_count`` (channels not
    archived) and ``active_token_count`` (static tokens neither revoked nor expired) annotated:
    one query for any number of apps."""
    live_token = Q(tokens__revoked_at__isnull=True) & (
        Q(tokens__expires_at__isnull=True) | Q(tokens__expires_at__gt=timezone.now())
    )
    return (
        App.objects.select_related("created_by", "authorized_by")
        .annotate(
            channel_count=Count("channels", filter=Q(channels__archived=False), distinct=True),
            active_token_count=Count("tokens", filter=live_token, distinct=True),
        )
        .order_by("name", "pk")
    )


def app_get_for_settings(*, app_id: int, details: bool = True) -> App:
    """One app as its settings page shows it, or ``Http404``. With ``details``, prefetched:
    ``token_rows`` (every token, newest first, with its creator) and ``live_channels``
    (channels not archived, each with ``recent_deliveries``: the latest
    ``APP_PAGE_RECENT_DELIVERIES``, without their payloads). Four queries whatever the number
    of tokens, channels and deliveries; one without ``details``."""
    if not details:
        app = App.objects.select_related("created_by", "authorized_by").filter(pk=app_id).first()
        if app is None:
            raise Http404("No app with this id.")
        return app
    deliveries = Delivery.objects.defer("payload").order_by("-id")[:APP_PAGE_RECENT_DELIVERIES]
    channels = (
        CustomChannel.objects.filter(archived=False)
        .order_by("pk")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries, to_attr="recent_deliveries"))
    )
    app = (
        App.objects.select_related("created_by", "authorized_by")
        .prefetch_related(
            Prefetch(
                "tokens",
                queryset=AppToken.objects.select_related("created_by").order_by(
                    "-created_at", "-id"
                ),
                to_attr="token_rows",
            ),
            Prefetch("channels", queryset=channels, to_attr="live_channels"),
        )
        .filter(pk=app_id)
        .first()
    )
    if app is None:
        raise Http404("No app with this id.")
    return app


def app_token_get_for_settings(*, app_id: int, token_id: int) -> AppToken:
    """A token of the app, with the app, or ``Http404`` (a token of another app too)."""
    token = AppToken.objects.select_related("app").filter(pk=token_id, app_id=app_id).first()
    if token is None:
        raise Http404("No token with this id in this app.")
    return token


def app_channel_get_for_settings(*, app_id: int, channel_id: int) -> CustomChannel:
    """A channel of the app that is not archived, with the app, or ``Http404``."""
    channel = (
        CustomChannel.objects.select_related("app")
        .filter(pk=channel_id, app_id=app_id, archived=False)
        .first()
    )
    if channel is None:
        raise Http404("No channel with this id in this app.")
    return channel


def app_delivery_get_for_settings(*, app_id: int, delivery_id: int) -> Delivery:
    """A delivery to one of the app's channels, with its channel, or ``Http404``."""
    delivery = (
        Delivery.objects.select_related("channel")
        .filter(pk=delivery_id, channel__app_id=app_id)
        .first()
    )
    if delivery is None:
        raise Http404("No delivery with this id in this app.")
    return delivery
