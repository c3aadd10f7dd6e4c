"""Kernel endpoints: health, and JSON answers for missing routes and server errors."""

from django.db import connection
from django.http import JsonResponse
from django.views import defaults

from apps.core.api.exceptions import error_body


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "No such endpoint."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _wants_json(request):
        cid = getattr(request, "correlation_id", "")
        return JsonResponse(
            error_body("internal_error", f"Something went wrong on our side (ref {cid})."),
            status=500,
        )
    return defaults.server_error(request)


def healthz(request):
    """Liveness and database reachability, for load balancers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
