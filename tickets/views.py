"""Pages of the help desk. The inbox arrives with its own issue; for now, a home page."""

from typing import Any

from django.views.generic import TemplateView

from channels_app.models import ChannelAccount
from tickets.models import Ticket


class HomeView(TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["open_ticket_count"] = Ticket.objects.filter(state="OPEN").count()
        context["channel_account_count"] = ChannelAccount.objects.filter(archived=False).count()
        return context
