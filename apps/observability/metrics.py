"""Prometheus metrics: counters and histograms kept in-process, gauges read at scrape time.

In-process (incremented where things happen, no database work): HTTP requests by view,
method and status with their latency; wallet operations by kind and outcome; register
checks by register and outcome with their latency; outbox handler deliveries by outcome;
payment reviews escalated for a breached SLA.

At scrape time (`ScrapeCollector`, a few indexed queries under a statement timeout): the
outbox's lag (age of the oldest undispatched event), undispatched events and pending or
dead deliveries; the review queue's size and SLA breaches per queue; the Celery broker's
queue lengths.

Processes: a counter lives in the process that counts. With one server process the
endpoint shows everything that process did. With several (uvicorn/gunicorn workers, Celery
prefork children on the same host) set PROMETHEUS_MULTIPROC_DIR to an empty directory
shared by them before they start: prometheus_client then keeps each process's values in
files there and the endpoint adds them up (see README, production notes).
"""

import os
import time

from prometheus_client import Counter, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "pam_http_requests", "HTTP requests answered, by view, method and status.", ["view", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "pam_http_request_duration_seconds",
    "Time to answer an HTTP request, by view and method.",
    ["view", "method"],
    buckets=_LATENCY_BUCKETS,
)
WALLET_OPERATIONS = Counter(
    "pam_wallet_operations",
    "Wallet money operations by kind (bet, win, deposit, ...) and outcome: ok, replayed, or the"
    " refusal's error code.",
    ["kind", "outcome"],
)
REGISTER_CHECKS = Counter(
    "pam_register_checks",
    "Calls to a self-exclusion register (with their retries) by outcome: ok, error, circuit_open.",
    ["register", "outcome"],
)
REGISTER_LATENCY = Histogram(
    "pam_register_check_duration_seconds",
    "Time a register call took, retries included.",
    ["register"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)
OUTBOX_DELIVERIES = Counter(
    "pam_outbox_deliveries", "Handler runs on outbox events by outcome: done, failed, dead.", ["outcome"]
)
REVIEW_SLA_ESCALATIONS = Counter(
    "pam_payments_review_sla_escalations", "Review items moved to the senior queue for a breached SLA."
)


def wallet_operation_counted(kind: str, outcome: str) -> None:
    WALLET_OPERATIONS.labels(kind, outcome).inc()


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class MetricsMiddleware:
    """Counts and times every request by the view that answered it (the URL pattern's name,
    not the path: a path holds ids, a label of it would grow without end)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.route or "unnamed") if match is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(view, method).observe(elapsed)
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
