"""Fetching objects an app reaches from a URL, with the ownership check.

An object of another app, an archived one, or a malformed id are all the same 404: an app
never learns that someone else's object exists.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request

from channels_app.models import App, ChannelAccount, CustomChannel
from helpdesk.api_errors import NotFound
from helpdesk.api_fields import parse_id


def request_app(request: Request) -> App:
    """The app a request authenticated as (``AppTokenAuthentication`` puts it in ``user``).

    Views run behind ``HasAppScope``, so anything else means a misconfigured view: refused as
    unauthenticated rather than trusted.
    """
    app = request.user
    if not isinstance(app, App):
        raise exceptions.NotAuthenticated(
            "Authentication required: send 'Authorization: Bearer <token>'."
        )
    return app


def access_channel_by_id(
    app: App, channel_id: str | int, *, include_archived: bool = False
) -> CustomChannel:
    """The app's custom channel, or ``NotFound``. Archived channels are hidden unless asked for."""
    pk = parse_id(str(channel_id), "channelId")
    channels = CustomChannel.objects.filter(app=app)
    if not include_archived:
        channels = channels.filter(archived=False)
    channel = channels.filter(pk=pk).first() if pk is not None else None
    if channel is None:
        raise NotFound("No custom channel with this id.")
    channel.app = app  # known already: reading channel.app (account.active) costs no query
    return channel


def access_channel_account_by_id(
    app: App, channel: CustomChannel, account_id: str | int, *, include_archived: bool = False
) -> ChannelAccount:
    """An account of one of the app's channels, or ``NotFound`` (archived ones are hidden)."""
    pk = parse_id(str(account_id), "channelAccountId")
    if pk is None or channel.app_id != app.pk:
        raise NotFound("No channel account with this id.")
    accounts = ChannelAccount.objects.filter(channel=channel, pk=pk)
    if not include_archived:
        accounts = accounts.filter(archived=False)
    account = accounts.first()
    if account is None:
        raise NotFound("No channel account with this id.")
    account.channel = channel  # already fetched (with its app) by access_channel_by_id
    return account
