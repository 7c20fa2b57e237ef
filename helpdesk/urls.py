"""Top-level routes: the public API (with HubSpot's dated aliases), OpenAPI, admin, pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from channels_app.api import files, inboxes
from channels_app.views import oauth
from helpdesk.api_routing import method_view

handler400 = "helpdesk.api_errors.handler400"
handler404 = "helpdesk.api_errors.handler404"
handler500 = "helpdesk.api_errors.handler500"

urlpatterns = [
    path("", include("channels_app.api.urls")),
    path("conversations/v3/conversations/inboxes", method_view(get=inboxes.InboxListApi)),
    path("files/v3/files", method_view(post=files.FileUploadApi)),
    path("files/download/<str:signed_id>", files.file_download, name="file-download"),
    path("oauth/authorize", oauth.AppAuthorizeView.as_view(), name="oauth-authorize"),
    path("oauth/v1/token", oauth.AppTokenView.as_view(), name="oauth-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("", include("routing.urls")),
    path("", include("channels_app.urls_settings")),
    path("", include("tickets.urls")),
]
