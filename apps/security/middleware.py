"""The IP filter, early in MIDDLEWARE: refused requests never reach a view.

1. The client address is resolved (ipfilter.client_ip_resolve: REMOTE_ADDR, or the
   right-most untrusted X-Forwarded-For hop behind TRUSTED_PROXIES) and kept on the
   request as `request.client_ip`.
2. An address on the global blocklist is refused: 403 JSON (the API's error shape) under
   /api/, the provider's own error form on its callbacks, a plain 403 page elsewhere.
3. A provider's callbacks (Hub88, PaymentIQ) with allow entries in force answer only
   addresses on them. With none: Hub88 is refused when IP_PROVIDER_ALLOWLIST_REQUIRED
   (default: on unless DEBUG); PaymentIQ goes on to its per-brand allowlist, checked by
   its view after authentication (which fails closed when empty).
Liveness and readiness (/healthz, /readyz) are never filtered. When the rules cannot be
read (database down) the process keeps the rules it has; without any, provider callbacks
are refused and other requests pass (their views need the database anyway).
Websocket handshakes get the global blocklist from IpFilterWebsocketMiddleware (pam/asgi.py).
Brand blocklists need the brand, known only once a player is authenticated: they are
applied by the player API's authentication and login (apps/security/interface.py).
"""

import json
import logging

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.utils import timezone

from apps.core.api.exceptions import error_body
from apps.security import ipfilter

logger = logging.getLogger(__name__)

MESSAGE = "Requests from this address are refused."


def _hub88_refusal(request) -> HttpResponse:
    # Hub88 errors are statuses in an HTTP 200 answer (spec); the brand is not known here,
    # so, like the view's other brandless answers, it goes unsigned.
    from apps.games.providers.hub88.protocol import Answer, Status

    request_uuid = ""
    try:
        if len(request.body) <= 65536:
            data = json.loads(request.body)
            if isinstance(data, dict) and isinstance(data.get("request_uuid"), str):
                request_uuid = data["request_uuid"][:255]
    except Exception:  # noqa: BLE001, S110 - an unreadable body only means no echo
        pass
    return HttpResponse(
        Answer(status=Status.UNKNOWN, request_uuid=request_uuid).body(), content_type="application/json"
    )


def _paymentiq_refusal(request) -> HttpResponse:
    # The same answer as the view's own allowlist refusal (protocol.py: 403 ip_not_allowed).
    from apps.payments.providers.paymentiq.protocol import ErrCode

    return JsonResponse(
        {"success": False, "errCode": ErrCode.FORBIDDEN, "errMsg": "This address may not call."}, status=403
    )


REFUSALS = {"hub88": _hub88_refusal, "paymentiq": _paymentiq_refusal}


def refusal(request, integration: str | None) -> HttpResponse:
    if integration in REFUSALS:
        return REFUSALS[integration](request)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("ip_blocked", MESSAGE), status=403)
    return HttpResponseForbidden(MESSAGE, content_type="text/plain; charset=utf-8")


class IpFilterMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        address = ipfilter.client_ip_resolve(request.META)
        request.client_ip = address
        if request.path in ipfilter.EXEMPT_PATHS:
            return self.get_response(request)
        integration = ipfilter.integration_of_path(request.path)
        refused = self.refused_why(address, integration)
        if refused:
            logger.warning(
                "ip filter: %s %s from %s refused (%s)", request.method, request.path, address, refused
            )
            return refusal(request, integration)
        return self.get_response(request)

    @staticmethod
    def refused_why(address, integration: str | None) -> str:
        if address is None and integration is None:
            return ""  # not an IP socket (e.g. a unix socket in front): nothing to match
        rules = ipfilter.ruleset_current()
        if rules.unavailable and integration is not None:
            return "ip rules unavailable"  # fail closed for provider doors
        now = timezone.now()
        if address is not None and rules.globally_blocked(address, now):
            return "global blocklist"
        if integration is None:
            return ""
        allowed = rules.integration_allowed(integration, address, now) if address is not None else False
        if allowed is False:
            return f"{integration} allowlist"
        if (
            allowed is None
            and integration not in ipfilter.INTEGRATIONS_WITH_OWN_ALLOWLIST
            and settings.IP_PROVIDER_ALLOWLIST_REQUIRED
        ):
            return f"{integration} has no allowlist"
        return ""


class IpFilterWebsocketMiddleware:
    """The same global blocklist for websocket handshakes, which never pass through
    Django's MIDDLEWARE (pam/asgi.py puts this before the session and the consumer).

    A refused address gets the handshake rejected (HTTP 403 from the server), before any
    session is read. The address is resolved as for HTTP: the socket's peer, or the
    right-most untrusted X-Forwarded-For hop behind TRUSTED_PROXIES."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        address = ipfilter.client_ip_resolve(_websocket_meta(scope))
        refused = await database_sync_to_async(IpFilterMiddleware.refused_why)(address, None)
        if refused:
            logger.warning(
                "ip filter: websocket %s from %s refused (%s)", scope.get("path"), address, refused
            )
            # Read the connect message first: an ASGI server expects it before a close.
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return None
        return await self.inner(scope, receive, send)


def _websocket_meta(scope) -> dict:
    """The two META keys client_ip_resolve reads, from an ASGI websocket scope."""
    client = scope.get("client") or (None, None)
    headers = dict(scope.get("headers") or ())
    meta = {"REMOTE_ADDR": client[0]}
    forwarded = headers.get(b"x-forwarded-for")
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded.decode("latin-1")
    return meta
