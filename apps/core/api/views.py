"""Kernel endpoints: health, and JSON answers for missing routes and server errors."""

from django.http import JsonResponse
from django.views import defaults

from apps.core.api.exceptions import error_body


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz", "/metrics")


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
    """Liveness: the process answers. No dependency is asked (a database outage must not get
    every web process restarted); readiness is /readyz (apps.observability)."""
    return JsonResponse({"status": "ok"})
