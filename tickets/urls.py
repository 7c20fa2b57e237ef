from django.urls import path

from tickets.views import HomeView
from tickets.views import conversation as conversation_views
from tickets.views import inbox as inbox_views
from tickets.views import live as live_views
from tickets.views import ticket as ticket_views

urlpatterns = [path("", HomeView.as_view(), name="home")]

# The workspace: views, search and custom views (I1, I2).
urlpatterns += [
    path("inbox/", inbox_views.InboxListView.as_view(), name="inbox"),
    path("inbox/search/", inbox_views.InboxSearchView.as_view(), name="inbox-search"),
    path("inbox/views/", inbox_views.SavedViewSaveView.as_view(), name="inbox-view-save"),
    path(
        "inbox/views/<int:pk>/",
        inbox_views.SavedViewSaveView.as_view(),
        name="inbox-view-update",
    ),
    path(
        "inbox/views/<int:pk>/delete/",
        inbox_views.SavedViewDeleteView.as_view(),
        name="inbox-view-delete",
    ),
]

# Live inbox and notifications (I8, I9).
urlpatterns += [
    path("inbox/live/events/", live_views.LiveEventListView.as_view(), name="inbox-live-events"),
    path(
        "inbox/live/notifications/",
        live_views.NotificationSummaryView.as_view(),
        name="inbox-live-notifications",
    ),
    path(
        "inbox/notifications/",
        live_views.NotificationListView.as_view(),
        name="inbox-notifications",
    ),
    path(
        "inbox/notifications/read/",
        live_views.NotificationReadAllView.as_view(),
        name="inbox-notifications-read",
    ),
    path(
        "inbox/notifications/<int:notification_id>/open/",
        live_views.NotificationOpenView.as_view(),
        name="inbox-notification-open",
    ),
]

# A ticket's conversation and its ticket page (I3-I7).
urlpatterns += [
    path(
        "inbox/tickets/<int:ticket_id>/",
        conversation_views.ConversationView.as_view(),
        name="inbox-ticket",
    ),
    path(
        "inbox/tickets/<int:ticket_id>/messages/",
        conversation_views.ConversationMessagesView.as_view(),
        name="inbox-ticket-messages",
    ),
    path(
        "inbox/tickets/<int:ticket_id>/messages/<int:message_id>/",
        conversation_views.ConversationMessageView.as_view(),
        name="inbox-ticket-message",
    ),
    path(
        "inbox/tickets/<int:ticket_id>/messages/<int:message_id>/redeliver/",
        conversation_views.MessageRedeliverView.as_view(),
        name="inbox-message-redeliver",
    ),
    path(
        "inbox/tickets/<int:ticket_id>/reply/",
        conversation_views.ReplyView.as_view(),
        name="inbox-ticket-reply",
    ),
    path(
        "inbox/tickets/<int:ticket_id>/uploads/",
        conversation_views.ReplyFileUploadView.as_view(),
        name="inbox-ticket-upload",
    ),
    path(
        "inbox/tickets/<int:ticket_id>/owner/",
        conversation_views.TicketOwnerView.as_view(),
        name="inbox-ticket-owner",
    ),
    path(
        "inbox/tickets/<int:ticket_id>/details/",
        ticket_views.TicketDetailView.as_view(),
        name="ticket-detail",
    ),
]
