"""What the payment services share: the payment lock, transitions, events, review records,
permission checks and idempotency of new payments."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from apps.core.actors import actor_label, system_actor
from apps.core.events import publish
from apps.payments.exceptions import (
    DuplicatePayment,
    InvalidPayment,
    PaymentNotFound,
    PaymentPermissionDenied,
    ReasonRequired,
    TransitionRefused,
)
from apps.payments.models import (
    Method,
    Payment,
    Queue,
    ReviewAction,
)
from apps.payments.rules import account_note, policy_for
from apps.tenants.permissions import user_can

logger = logging.getLogger(__name__)

SOURCE = "payments"  # the wallet idempotency source of every movement made here
SYSTEM = system_actor("payments")
MAX_AMOUNT = 2**63 - 1


@dataclass(frozen=True)
class AccountInfo:
    """The card, bank account or e-wallet a provider names (its id and a masked form)."""

    ref: str
    masked: str = ""


# --- helpers ------------------------------------------------------------------------------


def _publish(event_class, payment: Payment, *, actor, previous: str = "", reason: str = "") -> None:
    publish(
        event_class(
            payment_id=payment.pk,
            reference=str(payment.reference),
            kind=payment.kind,
            player_id=payment.player_id,
            brand_id=payment.brand_id,
            amount=payment.amount,
            currency=payment.currency_id,
            method=payment.method,
            provider=payment.provider,
            status=payment.status,
            previous_status=previous,
            reason=reason,
            flags=tuple(payment.flag_codes),
        ),
        actor=actor,
    )


def _locked(payment_id: int) -> Payment:
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("currency", "player", "brand")
        .filter(pk=payment_id)
        .first()
    )
    if payment is None:
        raise PaymentNotFound()
    return payment


def _move(payment: Payment, name: str) -> str:
    """Apply the FSM transition `name`; the status before it. Refused: TransitionRefused."""
    previous = payment.status
    try:
        getattr(payment, name)()
    except TransitionNotAllowed as exc:
        raise TransitionRefused(
            f"A {payment.kind} that is {payment.get_status_display().lower()} cannot be {_past(name)}.",
            status=payment.status,
        ) from exc
    payment.updated_at = timezone.now()
    return previous


def _past(name: str) -> str:
    return {
        "submit": "submitted",
        "flag": "flagged",
        "complete": "completed",
        "auto_approve": "approved automatically",
        "hold_for_review": "held for review",
        "process": "sent for payout",
        "pay": "paid",
        "claim": "claimed",
        "approve": "approved",
        "reject": "rejected",
        "fail": "failed",
        "cancel": "cancelled",
    }.get(name, name.replace("_", " "))


def _record(payment: Payment, action: str, *, actor, reason: str = "") -> None:
    ReviewAction.objects.create(
        payment=payment,
        action=action,
        actor=actor_label(actor),
        staff=actor if _is_staff(actor) else None,
        reason=(reason or "")[:500],
    )


def _is_staff(actor) -> bool:
    return isinstance(actor, AbstractBaseUser)


def _require(actor, perm: str, payment: Payment) -> None:
    """Staff permission on the payment's brand; without the brand, it does not exist."""
    if not user_can(actor, "payments.view_payment", brand_id=payment.brand_id):
        raise PaymentNotFound()
    if not user_can(actor, perm, brand_id=payment.brand_id):
        raise PaymentPermissionDenied()


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason[:500]


def _amount_check(amount) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise InvalidPayment("The amount must be a positive integer of minor units.", code="invalid_amount")


def _compliance_method(method: str, card_type: str) -> str:
    """The name the jurisdiction packs use for a payment method ("credit_card" is banned in GB)."""
    if method == Method.CARD and card_type:
        return f"{card_type}_card"
    return method


def _queue_for_review(payment: Payment, flags: list, *, actor, keep_flags: bool = False) -> None:
    policy = policy_for(payment.brand_id)
    if not keep_flags:
        payment.risk_flags = [flag.as_dict() for flag in flags]
    payment.queue = Queue.STANDARD
    payment.sla_due_at = timezone.now() + timedelta(minutes=policy.sla_minutes)
    _record(payment, ReviewAction.Action.FLAGGED, actor=actor, reason=", ".join(payment.flag_codes))


def _flag_add(payment: Payment, code: str, detail: str) -> None:
    if code not in payment.flag_codes:
        payment.risk_flags = [*(payment.risk_flags or []), {"code": code, "detail": detail}]


def _wallet_key(payment: Payment, step: str) -> dict:
    return {
        "source": SOURCE,
        "external_id": f"{payment.reference}:{step}",
        "payment_ref": str(payment.reference),
    }


def _save(payment: Payment) -> None:
    payment.save()


def _once(kind, create, request: dict) -> Payment:
    """create(**request) once per (provider, provider_reference); a repeat gets the first."""
    reference = request["provider_reference"]
    if not reference:
        return create(**request)
    existing = _replayed(kind, request)
    if existing is not None:
        return existing
    try:
        return create(**request)
    except IntegrityError:
        # The same reference committed meanwhile (its INSERT waited for ours): answer it.
        existing = _replayed(kind, request)
        if existing is None:
            raise
        return existing


def _replayed(kind, request: dict) -> Payment | None:
    existing = Payment.objects.filter(
        provider=request["provider"], provider_reference=request["provider_reference"]
    ).first()
    if existing is None:
        return None
    asked = (kind, request["player"].pk, request["amount"], request["currency"])
    if (existing.kind, existing.player_id, existing.amount, existing.currency_id) != asked:
        raise DuplicatePayment()
    return existing


def _new_payment(kind, status, target, request: dict) -> Payment:
    """An unsaved Payment of a service's arguments (`request`), its payment account noted on
    first sight."""
    player, account = request["player"], request["account"]
    return Payment(
        kind=kind,
        player=player,
        brand_id=player.brand_id,
        wallet=target,
        amount=request["amount"],
        currency_id=request["currency"],
        method=request["method"],
        card_type=request["card_type"],
        provider=request["provider"],
        provider_reference=request["provider_reference"],
        account=account_note(
            player=player, method=request["method"], account_ref=account.ref, masked=account.masked
        )
        if account
        else None,
        status=status,
    )
