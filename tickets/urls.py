from django.urls import path

from tickets.views import HomeView

urlpatterns = [path("", HomeView.as_view(), name="home")]
