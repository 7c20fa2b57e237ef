from django.urls import path

from routing import views_settings
from routing.views import AvailabilitySetView, NotificationSettingsView

USERS = "settings/help-desk/users/"
TEAMS = "settings/help-desk/teams/"

urlpatterns = [
    path(
        "settings/notifications/",
        NotificationSettingsView.as_view(),
        name="notification-settings",
    ),
    path("settings/availability/", AvailabilitySetView.as_view(), name="availability-set"),
    # Settings → Help Desk → Users and Teams (admins only).
    path(USERS, views_settings.UserListView.as_view(), name="settings-users"),
    path(f"{USERS}add/", views_settings.UserCreateView.as_view(), name="settings-user-add"),
    path(
        f"{USERS}<int:user_id>/", views_settings.UserEditView.as_view(), name="settings-user-edit"
    ),
    path(
        f"{USERS}<int:user_id>/invite/",
        views_settings.UserInviteView.as_view(),
        name="settings-user-invite",
    ),
    path(TEAMS, views_settings.TeamListView.as_view(), name="settings-teams"),
    path(
        f"{TEAMS}<int:team_id>/", views_settings.TeamEditView.as_view(), name="settings-team-edit"
    ),
    path(
        f"{TEAMS}<int:team_id>/delete/",
        views_settings.TeamDeleteView.as_view(),
        name="settings-team-delete",
    ),
    # An invited user's one-time link to set their password.
    path(
        "account/set-password/done/",
        views_settings.PasswordSetDoneView.as_view(),
        name="password-set-done",
    ),
    path(
        "account/set-password/<uidb64>/<token>/",
        views_settings.PasswordSetView.as_view(),
        name="password-set",
    ),
]
