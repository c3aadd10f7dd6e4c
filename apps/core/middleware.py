"""Request middleware of the shared kernel."""

from apps.core.correlation import (
    HEADER,
    correlation_id_clean,
    correlation_id_reset,
    correlation_id_set,
)
from apps.core.request_cache import request_cache_close, request_cache_open


class CorrelationIdMiddleware:
    """Give every request a correlation id and echo it back in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cid = correlation_id_clean(request.headers.get(HEADER))
        request.correlation_id = cid
        token = correlation_id_set(cid)
        try:
            response = self.get_response(request)
        finally:
            correlation_id_reset(token)
        response[HEADER] = cid
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
