"""The project's routes plus a test view that logs while it answers."""

import logging

from django.http import JsonResponse
from django.urls import path

from pam.urls import handler404, handler500
from pam.urls import urlpatterns as project_urlpatterns

logger = logging.getLogger("tests.observability")


def log_something(request):
    logger.warning("something worth a line", extra={"player_id": 42})
    return JsonResponse({"ok": True})


urlpatterns = [path("test-observability/log", log_something), *project_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]
