"""The Hub88 seamless-wallet door: /user/info, /user/balance, /transaction/{bet,win,rollback}.

One base URL serves every brand. Each call:
1. parse the body as JSON, only to find the brand: the session named by `token` (or, for
   /user/info and unknown tokens, the player named by `user`: player ids are global);
2. verify X-Hub88-Signature over the raw body with that brand's Hub88 public key, before
   anything else is looked at or changed;
3. check the fields and do the operation (operations.py);
4. answer HTTP 200 with {user, status, request_uuid, currency, balance}, signed with the
   brand's operator key.
Every failure is a status, never an HTTP error: anything unexpected is logged and answered
RS_ERROR_UNKNOWN, and so is a call beyond the integration's rate limit (checked once the
signature is verified, so only a signed call spends the integration's bucket). Answers to
calls whose brand cannot be found (not JSON, unknown token and user, brand without
integration) cannot be signed and are sent unsigned.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.core.exceptions import DomainError
from apps.core.guards import GuardRefusal
from apps.games.providers.hub88 import signing
from apps.games.providers.hub88.operations import OPERATIONS, Call, playable
from apps.games.providers.hub88.protocol import (
    Answer,
    Refusal,
    Status,
    balance_to_units,
    body_parse,
    fields_check,
    player_id_parse,
)
from apps.games.providers.hub88.selectors import hub88_integration_for_brand
from apps.games.services import game_session_by_token
from apps.players.models import Player
from apps.security.ratelimit import bucket_hit
from apps.wallet.exceptions import (
    DuplicateTransaction,
    InsufficientFunds,
    InvalidAmount,
    RollbackRefused,
    TransactionNotFound,
    TransactionRolledBack,
)

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def wallet_call(request, endpoint: str) -> HttpResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        answer, key = Answer(status=Status.WRONG_SYNTAX), ""
    else:
        answer, key = answer_call(endpoint, body, request.headers.get(signing.HEADER))
    raw = answer.body()
    response = HttpResponse(raw, content_type="application/json")
    if key:
        try:
            response[signing.HEADER] = signing.sign(raw, key)
        except signing.InvalidKey:
            logger.error("hub88: the operator key of this integration is unusable; answer sent unsigned")
    return response


def answer_call(endpoint: str, body: bytes, signature: str | None) -> tuple[Answer, str]:
    """The answer to one call and the private key to sign it with ("" = cannot sign)."""
    answer = Answer()
    key = ""
    call: Call | None = None
    try:
        data = body_parse(body)
        answer.request_uuid = _echo(data.get("request_uuid"))
        answer.user = _echo(data.get("user"))
        answer.currency = _echo(data.get("currency"), limit=8)
        session, player = _caller(endpoint, data)
        brand_id = session.brand_id if session is not None else player.brand_id if player else None
        if brand_id is None:
            raise Refusal(Status.INVALID_TOKEN if "token" in data else Status.UNKNOWN, "unknown caller")
        integration = hub88_integration_for_brand(brand_id)
        if integration is None or not integration.hub88_public_key:
            raise Refusal(Status.INVALID_PARTNER, "the brand has no Hub88 integration")
        key = integration.operator_private_key
        if not signing.verify(body, signature, integration.hub88_public_key):
            raise Refusal(Status.INVALID_SIGNATURE)
        if not integration.active:
            raise Refusal(Status.INVALID_PARTNER, "the brand's Hub88 integration is switched off")
        if not bucket_hit("provider", f"hub88:{integration.pk}").allowed:
            # The protocol has no rate-limit status: RS_ERROR_UNKNOWN is its generic failure,
            # not a terminal answer (wins and rollbacks are retried until they get one).
            raise Refusal(Status.UNKNOWN, "rate limited")
        call = Call(endpoint=endpoint, fields=fields_check(endpoint, data), session=session, player=player)
        minor = OPERATIONS[endpoint](call)
        answer.status = Status.OK
    except Refusal as refusal:
        answer.status = refusal.status
        minor = None
    except InsufficientFunds as exc:
        answer.status = Status.NOT_ENOUGH_MONEY
        balances = exc.balance or {}
        minor = balances.get("cash", 0) + balances.get("bonus", 0) if balances else None
    except DomainError as exc:
        answer.status = _status_of(exc)
        minor = None
        if answer.status == Status.UNKNOWN and not isinstance(exc, RollbackRefused):
            logger.warning("hub88 %s: unmapped %s (%s)", endpoint, type(exc).__name__, exc.code)
    except Exception:  # noqa: BLE001 - the protocol boundary: never a 500 to Hub88
        logger.exception("hub88 %s: unexpected error", endpoint)
        answer.status = Status.UNKNOWN
        minor = None
    _fill_account(answer, call, minor)
    if answer.status != Status.OK:
        logger.info("hub88 %s %s refused: %s", endpoint, answer.request_uuid, answer.status)
    return answer, key


def _caller(endpoint: str, data: dict) -> tuple:
    """(session, player) the call names; used only to pick the brand's keys before verifying."""
    if endpoint != "info":
        token = data.get("token")
        session = game_session_by_token(token) if isinstance(token, str) and len(token) <= 255 else None
        if session is not None:
            return session, None
    player_id = player_id_parse(data.get("user"))
    player = Player.objects.select_related("brand").filter(pk=player_id).first() if player_id else None
    return None, player


_DISABLING_CODES = frozenset({"timed_out", "self_excluded", "account_closed"})


def _status_of(exc: DomainError) -> str:
    if isinstance(exc, DuplicateTransaction):
        return Status.DUPLICATE_TRANSACTION
    if isinstance(exc, TransactionNotFound):
        return Status.TRANSACTION_DOES_NOT_EXIST
    if isinstance(exc, TransactionRolledBack):
        return Status.TRANSACTION_ROLLED_BACK
    if isinstance(exc, GuardRefusal):
        # A time-out, self-exclusion or closed account disables the player; other refusals
        # (deposit, loss, wager limits, stake caps) are limits reached.
        return Status.USER_DISABLED if exc.code in _DISABLING_CODES else Status.LIMIT_REACHED
    if isinstance(exc, RollbackRefused):
        # The reference is another wallet's, or not a bet or win: for this player there is
        # no such transaction. "retry" (a race that did not settle) is worth a retry.
        return Status.UNKNOWN if exc.code == "retry" else Status.TRANSACTION_DOES_NOT_EXIST
    if isinstance(exc, InvalidAmount):
        return Status.WRONG_TYPES
    return Status.UNKNOWN


def _fill_account(answer: Answer, call: Call | None, minor: int | None) -> None:
    """Currency and balance of the answer: the caller's wallet once it is known to be theirs."""
    if call is None:
        return
    if call.wallet is None:
        answer.currency = call.notes.get("currency", answer.currency)
        return
    answer.currency = call.wallet.currency_id
    answer.user = answer.user or str(call.wallet.player_id)
    try:
        if minor is None:
            minor = playable(call.wallet.pk)
        answer.balance = balance_to_units(minor, currency_exponent=call.exponent)
    except Exception:  # noqa: BLE001 - an answer without a balance beats no answer
        logger.exception("hub88: balance of wallet %s unavailable", call.wallet.pk)
        answer.balance = 0


def _echo(value, limit: int = 255) -> str:
    return value if isinstance(value, str) and len(value) <= limit else ""
