"""The observability endpoints: readiness and Prometheus metrics (liveness is core's /healthz)."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from apps.observability.collectors import ScrapeCollector
from apps.observability.health import readiness_checks
from apps.observability.metrics import multiprocess_dir
from apps.security.interface import user_verified


@never_cache
def readyz(request):
    """200 when every dependency answers, 503 otherwise; per-check status in JSON."""
    checks = readiness_checks()
    ready = all(check["status"] != "error" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


def _token_ok(request) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), expected.encode())
    )


@never_cache
def metrics(request):
    """Prometheus text format. For the scraper with `Authorization: Bearer METRICS_TOKEN`, or
    a signed-in superuser whose session accepted its second factor; nobody else (the figures
    describe the business)."""
    user = getattr(request, "user", None)
    staff_ok = user is not None and user.is_active and user.is_superuser and user_verified(user)
    if not _token_ok(request) and not staff_ok:
        authenticated = user is not None and user.is_authenticated
        response = JsonResponse(
            {
                "error": {
                    "code": "forbidden" if authenticated else "not_authenticated",
                    "message": "Not allowed.",
                }
            },
            status=403 if authenticated else 401,
        )
        if not authenticated:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(ScrapeCollector())
    body = generate_latest(registry) + generate_latest(scraped)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
