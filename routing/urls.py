from django.urls import path

from routing.views import AvailabilitySetView, NotificationSettingsView

urlpatterns = [
    path(
        "settings/notifications/",
        NotificationSettingsView.as_view(),
        name="notification-settings",
    ),
    path("settings/availability/", AvailabilitySetView.as_view(), name="availability-set"),
]
