"""The PaymentIQ door: POST /integrations/paymentiq/{verifyuser,lookupuser,authorize,transfer,
cancel,notification}.

One base URL serves every brand. Each call, in this order:
1. authenticate: HTTP Basic or Bearer credentials name the integration, and so the brand
   (401 {"success": false, "errCode": "unauthorized"} when missing or wrong);
2. the caller's address must be in the integration's IP allowlist, and an empty allowlist
   allows nobody (403 ip_not_allowed); a switched-off integration is refused (403
   integration_inactive). The address is the one apps/security resolved (REMOTE_ADDR, or
   X-Forwarded-For behind TRUSTED_PROXIES), whose middleware has already applied the
   global blocklist and the platform's PaymentIQ allowlist (IP rules) before this view;
   a call beyond the integration's rate limit is answered success false, rate_limited
   (apps/security/ratelimit.py);
3. read and check the body (protocol.py) and do the call (operations.py);
4. answer HTTP 200 with PaymentIQ's JSON: success true, or success false with errCode and
   errMsg.
Never a 500: anything unexpected is logged and answered success false, internal_error
(its writes rolled back, so PaymentIQ's retry is a first call). An oversized body is
refused (request_too_large) before it is read.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.core.exceptions import DomainError
from apps.payments.providers.paymentiq.auth import AuthFailed, integration_authenticate, ip_allowed
from apps.payments.providers.paymentiq.operations import OPERATIONS, notification
from apps.payments.providers.paymentiq.protocol import (
    ErrCode,
    Refusal,
    body_parse,
    echo,
    failure,
    fields_check,
)
from apps.security.interface import client_ip
from apps.security.ratelimit import bucket_hit

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def provider_call(request, action: str) -> JsonResponse:
    try:
        status, answer = _answer(request, action)
    except Exception:  # noqa: BLE001 - the protocol boundary: never a 500 to PaymentIQ
        logger.exception("paymentiq %s: unexpected error", action)
        status, answer = 200, failure("", ErrCode.INTERNAL, "The call could not be processed; retry it.")
    return JsonResponse(answer, status=status)


def _answer(request, action: str) -> tuple[int, dict]:
    try:
        integration = integration_authenticate(request.headers.get("Authorization"))
        caller = client_ip(request)
        if not ip_allowed(integration.ip_allowlist, str(caller) if caller else None):
            logger.warning(
                "paymentiq %s: integration %s called from %s, not in its allowlist",
                action,
                integration.pk,
                caller,
            )
            raise AuthFailed(403, ErrCode.FORBIDDEN, "This address may not call.")
        if not integration.active:
            raise AuthFailed(403, ErrCode.INACTIVE, "The integration is switched off.")
    except AuthFailed as refused:
        return refused.http_status, {"success": False, "errCode": refused.err_code, "errMsg": refused.err_msg}
    verdict = bucket_hit("provider", f"paymentiq:{integration.pk}")
    if not verdict.allowed:
        # PaymentIQ's errors are success false in an HTTP 200 body, this one too.
        logger.warning("paymentiq %s: integration %s over its rate limit", action, integration.pk)
        return 200, failure("", ErrCode.RATE_LIMITED, f"Too many calls; retry in {verdict.retry_after} s.")
    try:
        body = request.body
    except RequestDataTooBig:
        return 200, failure("", ErrCode.TOO_LARGE, "The request body is too large.")
    user_id = ""
    try:
        data = body_parse(body)
        user_id = echo(data.get("userId"), limit=20)
        if action == "notification":
            return 200, notification(integration, data)
        return 200, OPERATIONS[action](integration, fields_check(action, data))
    except Refusal as refusal:
        logger.info("paymentiq %s refused: %s", action, refusal.err_code)
        return 200, failure(user_id, refusal.err_code, refusal.err_msg)
    except DomainError as exc:  # a service refusing outside a recorded call
        logger.info("paymentiq %s refused: %s", action, exc.code)
        return 200, failure(user_id, exc.code, exc.message)
