"""The home page: signed-in reps go straight to their inbox; visitors get a landing page."""

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView


class HomeView(TemplateView):
    template_name = "home.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return HttpResponseRedirect(reverse("inbox"))
        return super().get(request, *args, **kwargs)
