"""Request middleware of the shared kernel."""

from opentelemetry import trace

from apps.core.correlation import (
    HEADER,
    REQUEST_ID_HEADER,
    correlation_id_new,
    correlation_id_reset,
    correlation_id_set,
    correlation_id_valid,
)
from apps.core.request_cache import request_cache_close, request_cache_open
from apps.observability.tracing import trace_id_current, trace_id_of_traceparent


def correlation_id_of_request(request) -> str:
    """X-Correlation-ID, else X-Request-ID, else the traceparent's trace id, else the trace
    id of this request's span (tracing on), else a new id. Headers that are not well formed
    are ignored (they would reach response headers, events and log lines)."""
    headers = request.headers
    for candidate in (headers.get(HEADER), headers.get(REQUEST_ID_HEADER)):
        if correlation_id_valid(candidate):
            return candidate
    return trace_id_of_traceparent(headers.get("traceparent")) or trace_id_current() or correlation_id_new()


class CorrelationIdMiddleware:
    """Give every request a correlation id and echo it back in the response (as
    X-Correlation-ID and X-Request-ID); the request's span carries it as an attribute."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cid = correlation_id_of_request(request)
        request.correlation_id = cid
        _span_tagged(cid)
        token = correlation_id_set(cid)
        try:
            response = self.get_response(request)
        finally:
            correlation_id_reset(token)
        response[HEADER] = cid
        response[REQUEST_ID_HEADER] = cid
        return response


class RequestCacheMiddleware:
    """Opens the request's memo (apps/core/request_cache.py) and drops it with the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_cache_open()
        try:
            return self.get_response(request)
        finally:
            request_cache_close(token)


def _span_tagged(cid: str) -> None:
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attribute("pam.correlation_id", cid)
