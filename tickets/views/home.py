"""The home page: signed-in reps go straight to their inbox; visitors get a landing page."""

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from channels_app.models import ChannelAccount
from tickets.models import Ticket


class HomeView(TemplateView):
    template_name = "home.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return HttpResponseRedirect(reverse("inbox"))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["open_ticket_count"] = Ticket.objects.filter(state="OPEN").count()
        context["channel_account_count"] = ChannelAccount.objects.filter(archived=False).count()
        return context
