"""ASGI entry point: HTTP through Django; the inbox's websocket (``/ws/inbox/``) through Channels.

Serve it with an ASGI server, e.g. ``uvicorn helpdesk.asgi:application`` (websockets need
``wsproto``, a dependency). Websockets accept the session cookie of a signed-in rep and only
from pages of our own hosts (``ALLOWED_HOSTS``), so another site cannot open one with it.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

# Django is set up (apps loaded) before anything imports models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from tickets.consumers import InboxConsumer  # noqa: E402

websocket_urlpatterns = [path("ws/inbox/", InboxConsumer.as_asgi(), name="ws-inbox")]

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
