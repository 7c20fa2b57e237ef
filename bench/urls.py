from django.urls import include, path

from bench.baseline import BaselineMessageApi

urlpatterns = [
    path("bench/baseline/<str:channel_id>/messages", BaselineMessageApi.as_view()),
    path("", include("helpdesk.urls")),
]
