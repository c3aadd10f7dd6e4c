"""Websocket routes. Each app with consumers adds its patterns here."""

from django.urls import path

from apps.dashboards.consumers import DashboardConsumer

websocket_urlpatterns: list = [
    path("ws/dashboards/", DashboardConsumer.as_asgi()),
]
