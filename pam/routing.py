"""Websocket routes. Each app with consumers adds its patterns here."""

websocket_urlpatterns: list = []
