"""What each PaymentIQ call does, once its caller is authenticated: checks, then one service.

All payment logic is apps.payments.services'; this module resolves what the call names
(the player of the integration's brand, the currency, the payment its txId started),
translates units and errors, and keeps PaymentIQ's idempotency promise.

Checked before anything is written (a refusal here changes nothing and is not stored):
the body's fields (protocol.py), userId is a player of the integration's brand
(`user_not_found`; another brand's player looks exactly like a missing one), txAmountCy
is a currency the brand offers (`currency_not_offered`), the amount is exact for it, and
an authorize names a payment method we accept.

Idempotency (authorize, transfer, cancel): txId is the key, per integration and action.
The call first claims its key (INSERT ... ON CONFLICT DO NOTHING into ProviderCall) in
its transaction; an identical call racing it waits on that insert until the first
commits, then answers the stored response. The same txId with other content (the
fingerprinted fields, protocol.FINGERPRINTED) answers `duplicate_transaction` and changes
nothing. The service runs in a savepoint: a refusal (compliance, insufficient funds, a
transfer after a cancel) rolls its writes back but its answer is stored, so a replay gets
it again. An unexpected error rolls everything back, the claim included: a retry is then
a first call.

Transfers mean the money has moved: every refused transfer records a PaymentIncident
for a person to look at (after-cancel, unknown txId, wrong currency...), once, since a
replay is answered from the record. A cancel after a transfer is refused the same way.
"""

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.core.actors import provider_actor
from apps.core.exceptions import DomainError
from apps.core.models import Currency
from apps.payments import services
from apps.payments.models import Payment, ProviderCall, Status
from apps.payments.providers.paymentiq import CODE
from apps.payments.providers.paymentiq.models import PaymentIQIntegration
from apps.payments.providers.paymentiq.protocol import (
    ErrCode,
    Refusal,
    amount_to_minor,
    currency_code_check,
    echo,
    failure,
    fingerprint,
    minor_to_text,
    payment_method,
    player_id_parse,
    success,
)
from apps.payments.providers.paymentiq.selectors import payment_of_call, player_of_brand
from apps.players.models import Player
from apps.players.selectors import player_by_token
from apps.wallet.selectors import wallet_for

logger = logging.getLogger(__name__)

ACTOR = provider_actor(CODE)


@dataclass
class Outcome:
    response: dict
    payment: Payment | None = None
    incidents: list[dict] = field(default_factory=list)


# --- the calls --------------------------------------------------------------------------


def verifyuser(integration: PaymentIQIntegration, fields: dict) -> dict:
    """The player behind a player-API session token, with balance and profile.

    The token (sessionId) is looked up exactly as the player API does (players.selectors.
    player_by_token: live, unrevoked) and must be userId's. Balance is cash plus bonus of
    the player's account currency, in that currency's decimals. Profile fields are those the
    Player has; locale and userCat are not kept, so not sent.
    """
    user_id = fields["userId"]
    player = _player(integration, user_id)
    session_player = player_by_token(fields["sessionId"])
    if session_player is None or session_player.pk != player.pk:
        raise Refusal(ErrCode.SESSION_INVALID, "The session is not valid for this user.")
    currency = player.currency
    wallet = wallet_for(player=player, currency_code=currency.code)
    playable = wallet.cash + wallet.bonus if wallet is not None else 0
    return success(
        user_id,
        balance=minor_to_text(playable, currency_exponent=currency.exponent),
        balanceCy=currency.code,
        firstName=player.first_name,
        lastName=player.last_name,
        street=player.address_line,
        city=player.city,
        zip=player.postcode,
        country=player.country.alpha3 or "",
        email=player.email,
        dob=player.date_of_birth.isoformat(),
        mobile=player.mobile,
        kycStatus=player.kyc_status,
    )


def authorize(integration: PaymentIQIntegration, fields: dict) -> dict:
    """A positive amount starts a deposit, a negative one requests a withdrawal (its money is
    reserved). Compliance and wallet refusals answer success false with their code; a
    payment held for review answers success true (authCode = its reference)."""
    user_id, tx_id = fields["userId"], fields["txId"]
    player = _player(integration, user_id)
    currency = _currency(integration, fields["txAmountCy"])
    minor = amount_to_minor(fields["txAmount"], currency_exponent=currency.exponent)
    if minor == 0:
        raise Refusal(ErrCode.INVALID_AMOUNT, "The amount must not be zero.")
    withdrawal = minor < 0
    chosen = payment_method(fields["txName"], fields["attributes"], withdrawal=withdrawal)
    account = (
        services.AccountInfo(ref=fields["accountId"], masked=fields["maskedAccount"] or "")
        if fields["accountId"]
        else None
    )

    def business() -> Outcome:
        start = services.withdrawal_request if withdrawal else services.deposit_initiate
        try:
            with transaction.atomic():
                payment = start(
                    player=player,
                    amount=abs(minor),
                    currency=currency.code,
                    method=chosen.method,
                    card_type=chosen.card_type,
                    provider=CODE,
                    provider_reference=tx_id,
                    account=account,
                    actor=ACTOR,
                )
        except IntegrityError as exc:  # another integration's payment has this txId
            raise Refusal(ErrCode.DUPLICATE, "This txId names another payment.") from exc
        reference = str(payment.reference)
        return Outcome(success(user_id, merchantTxId=reference, authCode=reference), payment)

    return _recorded(integration, "authorize", fields, business)


def transfer(integration: PaymentIQIntegration, fields: dict) -> dict:
    """The money moved: a deposit is credited (deposit_confirm), a withdrawal settled for the
    amount paid (withdrawal_paid). Always accepted for a payment that was not cancelled,
    failed or rejected; otherwise refused, with an incident."""
    user_id, tx_id = fields["userId"], fields["txId"]
    player = _player(integration, user_id)
    currency = _currency(integration, fields["txAmountCy"])
    minor = amount_to_minor(fields["txAmount"], currency_exponent=currency.exponent)

    def business() -> Outcome:
        payment = _payment_locked(integration, player, tx_id, fields["authCode"])
        detail = {"txId": tx_id, "status": payment.status, "txAmount": fields["txAmount"]}
        if payment.status in (Status.CANCELLED, Status.FAILED):
            raise Refusal(
                ErrCode.TRANSFER_AFTER_CANCEL,
                f"The payment was {payment.status} before this transfer.",
                incident={"code": ErrCode.TRANSFER_AFTER_CANCEL, "detail": detail},
                payment=payment,
            )
        if payment.status == Status.REJECTED:
            raise Refusal(
                ErrCode.TRANSFER_AFTER_REJECT,
                "The payment was rejected before this transfer.",
                incident={"code": ErrCode.TRANSFER_AFTER_REJECT, "detail": detail},
                payment=payment,
            )
        if currency.code != payment.currency_id:
            raise Refusal(
                ErrCode.CURRENCY_MISMATCH, f"The payment is in {payment.currency_id}.", payment=payment
            )
        deposit = payment.kind == Payment.Kind.DEPOSIT
        if minor == 0 or (minor > 0) != deposit:
            raise Refusal(
                ErrCode.INVALID_AMOUNT,
                f"A {payment.kind} transfer cannot be {fields['txAmount']}.",
                payment=payment,
            )
        incidents = []
        if deposit:
            if minor != payment.amount:
                # The core credits what was authorised; a person reconciles the difference.
                incidents.append(
                    {"code": "transfer_amount_mismatch", "detail": {**detail, "authorized": payment.amount}}
                )
            payment = services.deposit_confirm(payment_id=payment.pk, actor=ACTOR)
        else:
            payment = services.withdrawal_paid(payment_id=payment.pk, actor=ACTOR, amount=-minor)
        return Outcome(success(user_id, txId=tx_id, merchantTxId=str(payment.reference)), payment, incidents)

    return _recorded(integration, "transfer", fields, business, incident_on_refusal="transfer_refused")


def cancel(integration: PaymentIQIntegration, fields: dict) -> dict:
    """The payment failed at the provider: end it (a withdrawal's reserve is released).
    A payment that already ended without money moving answers success; one whose money
    moved (a transfer came) is refused with an incident."""
    user_id, tx_id = fields["userId"], fields["txId"]
    player = _player(integration, user_id)
    if fields["txAmountCy"] is not None:
        currency = _currency(integration, fields["txAmountCy"])
        if fields["txAmount"] is not None:
            amount_to_minor(fields["txAmount"], currency_exponent=currency.exponent)
    reason = _cancel_reason(fields)

    def business() -> Outcome:
        payment = _payment_locked(integration, player, tx_id, fields["authCode"])
        moved = payment.status in (Status.COMPLETED, Status.PAID) or (
            payment.kind == Payment.Kind.DEPOSIT and payment.funds_received
        )
        if moved:
            raise Refusal(
                ErrCode.CANCEL_AFTER_TRANSFER,
                "The payment's money has already moved.",
                incident={
                    "code": ErrCode.CANCEL_AFTER_TRANSFER,
                    "detail": {"txId": tx_id, "status": payment.status, "reason": reason},
                },
                payment=payment,
            )
        if payment.status not in (Status.CANCELLED, Status.FAILED, Status.REJECTED):
            end = services.payment_fail if payment.status == Status.PROCESSING else services.payment_cancel
            payment = end(payment_id=payment.pk, actor=ACTOR, reason=reason)
        return Outcome(success(user_id), payment)

    return _recorded(integration, "cancel", fields, business)


def notification(integration: PaymentIQIntegration, data: dict) -> dict:
    """Acknowledged; the call is recorded (once per distinct body) and changes nothing else."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(raw.encode()).hexdigest()
    tx_id = echo(data.get("txId"), limit=60)
    response = success(echo(data.get("userId"), limit=20))
    with transaction.atomic():
        call_id = _claim(integration, "notification", f"{tx_id}:{digest[:32]}" if tx_id else digest, digest)
        if call_id is not None:
            ProviderCall.objects.filter(pk=call_id).update(response=response)
    return response


OPERATIONS: dict[str, Callable[[PaymentIQIntegration, dict], dict]] = {
    "verifyuser": verifyuser,
    "lookupuser": verifyuser,
    "authorize": authorize,
    "transfer": transfer,
    "cancel": cancel,
}


# --- lookups ----------------------------------------------------------------------------


def _player(integration: PaymentIQIntegration, user_id: str) -> Player:
    player_id = player_id_parse(user_id)
    player = player_of_brand(brand_id=integration.brand_id, player_id=player_id) if player_id else None
    if player is None:
        raise Refusal(ErrCode.USER_NOT_FOUND, "No such user.")
    return player


def _currency(integration: PaymentIQIntegration, code: str) -> Currency:
    currency_code_check(code)
    currency = integration.brand.currencies.filter(code=code).first()
    if currency is None:
        raise Refusal(ErrCode.CURRENCY_NOT_OFFERED, f"{code} is not offered by this brand.")
    return currency


def _payment_locked(integration: PaymentIQIntegration, player: Player, tx_id: str, auth_code) -> Payment:
    """The payment txId started, locked for the decision (before the service locks it again,
    in this transaction: the payment's lock still comes before its wallet's)."""
    found = payment_of_call(brand_id=integration.brand_id, player_id=player.pk, tx_id=tx_id)
    if found is None:
        raise Refusal(ErrCode.TX_NOT_FOUND, "No payment was authorized with this txId.")
    payment = Payment.objects.select_for_update(of=("self",)).select_related("currency").get(pk=found.pk)
    if auth_code is not None and auth_code != str(payment.reference):
        raise Refusal(ErrCode.AUTH_CODE_MISMATCH, "The authCode is not this payment's.", payment=payment)
    return payment


def _cancel_reason(fields: dict) -> str:
    codes = [
        f"{name}={echo(fields[name], limit=64)}" for name in ("statusCode", "pspStatusCode") if fields[name]
    ]
    return "Cancelled by PaymentIQ" + (f" ({', '.join(codes)})" if codes else "") + "."


# --- idempotency ------------------------------------------------------------------------


def _claim(integration: PaymentIQIntegration, action: str, tx_id: str, digest: str) -> int | None:
    """Insert the call's record unless its key exists: its id, or None if the key is taken
    (by a committed call; a concurrent one is waited for by the insert itself)."""
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    table = ProviderCall._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (provider, integration_id, action, tx_id, fingerprint, response,"  # noqa: S608 - constants only
            f" created_at) VALUES (%s, %s, %s, %s, %s, %s{jsonb}, %s)"
            " ON CONFLICT (provider, integration_id, action, tx_id) DO NOTHING RETURNING id",
            [CODE, integration.pk, action, tx_id, digest, "{}", timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _recorded(
    integration: PaymentIQIntegration,
    action: str,
    fields: dict,
    business: Callable[[], Outcome],
    *,
    incident_on_refusal: str = "",
) -> dict:
    """Run `business` once per txId; answer repeats from the record (see the module doc)."""
    user_id, tx_id = fields["userId"], fields["txId"]
    digest = fingerprint(action, fields)
    with transaction.atomic():
        call_id = _claim(integration, action, tx_id, digest)
        if call_id is None:
            stored = ProviderCall.objects.get(
                provider=CODE, integration_id=integration.pk, action=action, tx_id=tx_id
            )
            if stored.fingerprint != digest:
                return failure(
                    user_id, ErrCode.DUPLICATE, f"This txId was used for a different {action} request."
                )
            return stored.response
        try:
            with transaction.atomic():
                outcome = business()
        except Refusal as refusal:
            outcome = Outcome(failure(user_id, refusal.err_code, refusal.err_msg), refusal.payment)
            if refusal.incident:
                outcome.incidents.append(refusal.incident)
            elif incident_on_refusal:
                outcome.incidents.append(
                    {"code": incident_on_refusal, "detail": {"errCode": refusal.err_code}}
                )
        except DomainError as exc:
            outcome = Outcome(failure(user_id, exc.code, exc.message))
            if incident_on_refusal:
                outcome.incidents.append({"code": incident_on_refusal, "detail": {"errCode": exc.code}})
        for incident in outcome.incidents:
            services.incident_record(
                payment_id=outcome.payment.pk if outcome.payment else None,
                brand_id=integration.brand_id,
                provider=CODE,
                code=incident["code"],
                detail={"action": action, "txId": tx_id, **incident["detail"]},
                actor=ACTOR,
            )
        ProviderCall.objects.filter(pk=call_id).update(
            response=outcome.response, payment_id=outcome.payment.pk if outcome.payment else None
        )
    if not outcome.response["success"]:
        logger.info("paymentiq %s %s refused: %s", action, tx_id, outcome.response["errCode"])
    return outcome.response
