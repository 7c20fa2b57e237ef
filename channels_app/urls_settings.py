"""Routes of the settings pages (admins only) and of signing in and out."""

from django.contrib.auth import views as auth_views
from django.urls import path

from channels_app.views import apps, audit_log, channel_accounts, connect

CHANNELS = "settings/help-desk/channels/"
APPS = "settings/help-desk/apps/"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path(CHANNELS, channel_accounts.ChannelAccountListView.as_view(), name="settings-channels"),
    path(
        f"{CHANNELS}<int:account_id>/edit/",
        channel_accounts.ChannelAccountEditView.as_view(),
        name="settings-account-edit",
    ),
    path(
        f"{CHANNELS}<int:account_id>/delete/",
        channel_accounts.ChannelAccountDeleteView.as_view(),
        name="settings-account-delete",
    ),
    path(
        f"{CHANNELS}<int:account_id>/deactivate/",
        channel_accounts.ChannelAccountDeactivateView.as_view(),
        name="settings-account-deactivate",
    ),
    path(
        f"{CHANNELS}<int:account_id>/reactivate/",
        channel_accounts.ChannelAccountReactivateView.as_view(),
        name="settings-account-reactivate",
    ),
    path(f"{CHANNELS}connect/", connect.ConnectChannelPickView.as_view(), name="settings-connect"),
    path(
        f"{CHANNELS}connect/<int:channel_id>/",
        connect.ConnectChannelStartView.as_view(),
        name="settings-connect-start",
    ),
    path(
        f"{CHANNELS}connect/<int:channel_id>/credentials/",
        connect.ConnectCredentialsView.as_view(),
        name="settings-connect-credentials",
    ),
    path(
        f"{CHANNELS}connect/<int:channel_id>/routing/",
        connect.ConnectRoutingView.as_view(),
        name="settings-connect-routing",
    ),
    path(
        f"{CHANNELS}connect/waiting/<int:staging_id>/",
        connect.ConnectWaitingView.as_view(),
        name="settings-connect-waiting",
    ),
    path(
        f"{CHANNELS}connect/done/<int:account_id>/",
        connect.ConnectDoneView.as_view(),
        name="settings-connect-done",
    ),
    path(
        "settings/help-desk/audit-log/", audit_log.AuditLogView.as_view(), name="settings-audit-log"
    ),
    # Apps (SPEC C5): the list, create, one app's page and its actions.
    path(APPS, apps.AppListView.as_view(), name="settings-apps"),
    path(f"{APPS}new/", apps.AppCreateView.as_view(), name="settings-app-create"),
    path(f"{APPS}<int:app_id>/", apps.AppDetailView.as_view(), name="settings-app"),
    path(
        f"{APPS}<int:app_id>/tokens/new/",
        apps.TokenCreateView.as_view(),
        name="settings-app-token-create",
    ),
    path(
        f"{APPS}<int:app_id>/tokens/<int:token_id>/revoke/",
        apps.TokenRevokeView.as_view(),
        name="settings-app-token-revoke",
    ),
    path(
        f"{APPS}<int:app_id>/uninstall/",
        apps.AppUninstallView.as_view(),
        name="settings-app-uninstall",
    ),
    path(
        f"{APPS}<int:app_id>/channels/<int:channel_id>/rotate-signing-secret/",
        apps.SigningSecretRotateView.as_view(),
        name="settings-app-secret-rotate",
    ),
    path(
        f"{APPS}<int:app_id>/channels/<int:channel_id>/reenable-webhook/",
        apps.WebhookReenableView.as_view(),
        name="settings-app-webhook-reenable",
    ),
    path(
        f"{APPS}<int:app_id>/deliveries/<int:delivery_id>/redeliver/",
        apps.DeliveryRedeliverView.as_view(),
        name="settings-app-redeliver",
    ),
]
