"""Routes of the custom-channels API, served under ``/conversations/v3/custom-channels`` and the
dated prefixes HubSpot's newer SDKs use."""

from django.urls import URLPattern, path

from channels_app.api import channel_accounts, channels, messages
from helpdesk.api_routing import method_view

# HubSpot's SDKs call the v3 path or a dated one; all of them serve the same operations.
CUSTOM_CHANNEL_PREFIXES = (
    "conversations/v3/custom-channels",
    "conversations/custom-channels/2026-03",
    "conversations/custom-channels/2026-09",
)

_detail_routes = [
    path(
        "<str:channel_id>",
        method_view(
            get=channels.ChannelGetApi,
            patch=channels.ChannelUpdateApi,
            delete=channels.ChannelArchiveApi,
        ),
    ),
    path(
        "<str:channel_id>/rotate-signing-secret",
        method_view(post=channels.SigningSecretRotateApi),
    ),
    path(
        "<str:channel_id>/channel-accounts",
        method_view(
            get=channel_accounts.ChannelAccountListApi,
            post=channel_accounts.ChannelAccountCreateApi,
        ),
    ),
    path(
        "<str:channel_id>/channel-accounts/<str:account_id>",
        method_view(
            get=channel_accounts.ChannelAccountGetApi,
            patch=channel_accounts.ChannelAccountUpdateApi,
        ),
    ),
    path(
        "<str:channel_id>/channel-accounts/<str:account_id>/credentials",
        method_view(get=channel_accounts.ChannelAccountCredentialsApi),
    ),
    path(
        "<str:channel_id>/channel-account-staging-tokens/<str:account_token>",
        method_view(patch=channel_accounts.StagingTokenCompleteApi),
    ),
    path("<str:channel_id>/messages", method_view(post=messages.MessagePublishApi)),
    path(
        "<str:channel_id>/messages/<str:message_id>",
        method_view(get=messages.MessageGetApi, patch=messages.MessageStatusUpdateApi),
    ),
]


def custom_channel_routes() -> list[URLPattern]:
    collection = method_view(get=channels.ChannelListApi, post=channels.ChannelCreateApi)
    routes: list[URLPattern] = []
    for prefix in CUSTOM_CHANNEL_PREFIXES:
        routes.append(path(prefix, collection))
        routes.extend(path(f"{prefix}/{route.pattern}", route.callback) for route in _detail_routes)
    return routes


urlpatterns = custom_channel_routes()
