"""Writes of payments: every transition of a deposit or withdrawal, and the review workflow.

Contract of every service here:
- One transaction. The payment row is locked (SELECT ... FOR UPDATE) before its status is
  read, so two transitions of one payment queue and the second sees the first's result;
  a payment's lock is always taken before its wallet's row (the wallet service takes that),
  so there is no lock cycle.
- Money moves only through apps.wallet.services, keyed by (source "payments", the payment's
  reference and the step): a repeated step moves nothing twice.
- Every transition is a django-fsm transition (models.py): an illegal one is refused with
  TransitionRefused and changes nothing. Each publishes an event (events.py) and, for staff
  actions, writes a ReviewAction and an audit row naming the person.
- Staff actions check their own permission on the payment's brand (user_can): a person
  who cannot see the brand gets the same answer as for a payment that does not exist.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from apps.compliance import interface as compliance
from apps.core.actors import actor_label, audit_as, system_actor
from apps.core.events import publish
from apps.core.guards import GuardRefusal
from apps.payments import events
from apps.payments.exceptions import (
    DuplicatePayment,
    FourEyes,
    InvalidPayment,
    PaymentNotFound,
    PaymentPermissionDenied,
    ReasonRequired,
    ReviewConflict,
    TransitionRefused,
)
from apps.payments.models import (
    AWAITING_REVIEW,
    WITHDRAWAL_RESERVED,
    Method,
    Payment,
    PaymentApproval,
    PaymentIncident,
    Queue,
    ReviewAction,
    Status,
)
from apps.payments.rules import account_note, low_risk, policy_for, screen, threshold_minor
from apps.tenants.permissions import user_can
from apps.wallet import services as wallet
from apps.wallet.exceptions import InvalidAmount
from apps.wallet.selectors import wallet_for

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


# --- deposits -----------------------------------------------------------------------------


def deposit_initiate(
    *,
    player,
    amount: int,
    currency: str,
    method: str,
    provider: str,
    actor,
    card_type: str = "",
    provider_reference: str = "",
    account: AccountInfo | None = None,
) -> Payment:
    """Start a deposit: compliance first (refused: ComplianceRefused, nothing written), then
    the review rules. Screened clean it is pending (the provider moves the money); flagged
    it waits in the review queue. Publishes deposit_initiated (and payment_flagged).

    Idempotent by (provider, provider_reference): a repeat with the same player, amount and
    currency returns the first payment and does nothing; with other details it is refused
    (DuplicatePayment). Two identical requests racing: one payment, both get it."""
    return _once(Payment.Kind.DEPOSIT, _deposit_initiate, locals())


def _deposit_initiate(
    *,
    player,
    amount: int,
    currency: str,
    method: str,
    provider: str,
    actor,
    card_type: str = "",
    provider_reference: str = "",
    account: AccountInfo | None = None,
) -> Payment:
    """deposit_initiate, without its idempotency (see there)."""
    _amount_check(amount)
    if method not in Method.values:
        raise InvalidPayment(f"Unknown payment method {method!r}.", code="invalid_method")
    if _is_staff(actor) and not user_can(actor, "payments.record_manual_deposit", brand_id=player.brand_id):
        raise PaymentPermissionDenied("You may not record deposits for this brand.")
    decision = compliance.check(
        "deposit",
        player,
        amount=amount,
        currency=currency,
        payment_method=_compliance_method(method, card_type),
    )
    decision.raise_if_refused()
    try:
        target = wallet.wallet_get_or_create(player=player, currency_code=currency)
    except InvalidAmount as exc:
        raise InvalidPayment(exc.message, code=exc.code) from exc
    with transaction.atomic(), audit_as(actor):
        payment = _new_payment(Payment.Kind.DEPOSIT, Status.INITIATED, target, locals())
        payment.save()
        _publish(events.DepositInitiated, payment, actor=actor)
        flags = screen(payment, compliance_review=decision.review, compliance_rule=decision.rule)
        if flags:
            previous = _move(payment, "flag")
            _queue_for_review(payment, flags, actor=actor)
            _save(payment)
            _publish(events.PaymentFlagged, payment, actor=actor, previous=previous)
        else:
            _move(payment, "submit")
            _save(payment)
    return payment


def deposit_confirm(*, payment_id: int, actor) -> Payment:
    """The provider reports the money received. A pending or approved deposit is credited
    and completed; one under review keeps waiting, marked as funded. If the wallet's guards
    now refuse the credit (a limit reached or an exclusion since it started), the money is
    kept aside and the deposit goes to review. Idempotent: a completed deposit is returned
    as it is. Refused (TransitionRefused) after a failure, cancellation or rejection."""
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        if _is_staff(actor):
            _require(actor, "payments.record_manual_deposit", payment)
        if payment.status == Status.COMPLETED:
            return payment
        if payment.kind != Payment.Kind.DEPOSIT:
            raise TransitionRefused("This is not a deposit.")
        if payment.status in (Status.FLAGGED, Status.IN_REVIEW):
            if not payment.funds_received:
                payment.funds_received = True
                payment.updated_at = timezone.now()
                _record(
                    payment,
                    ReviewAction.Action.NOTE,
                    actor=actor,
                    reason="Provider reports the funds received.",
                )
                _save(payment)
            return payment
        if payment.status not in (Status.PENDING, Status.APPROVED):
            raise TransitionRefused(
                f"A deposit that is {payment.get_status_display().lower()} cannot receive funds.",
                status=payment.status,
            )
        payment.funds_received = True
        _deposit_credit(payment, actor=actor)
    return payment


def _deposit_credit(payment: Payment, *, actor, hold: bool = True) -> None:
    """Credit the wallet and complete; if a guard refuses, hold the funded deposit for review
    (hold=False: let the refusal propagate, for a reviewer's approval to be refused)."""
    try:
        with transaction.atomic():
            wallet.deposit_credit(
                wallet=payment.wallet, amount=payment.amount, actor=actor, **_wallet_key(payment, "credit")
            )
    except GuardRefusal as refusal:
        if not hold:
            raise
        # The money is here but may not be played with: hold it; a person decides (rejecting
        # returns it to the payer).
        _flag_add(payment, "credit_refused", f"The wallet refused the credit: {refusal.code}.")
        previous = _move(payment, "flag")
        payment.claimed_by, payment.claimed_at = None, None
        _queue_for_review(payment, [], actor=actor, keep_flags=True)
        _save(payment)
        _publish(events.PaymentFlagged, payment, actor=actor, previous=previous, reason=refusal.code)
        return
    previous = _move(payment, "complete")
    payment.queue, payment.sla_due_at = Queue.NONE, None
    _save(payment)
    _publish(events.DepositCompleted, payment, actor=actor, previous=previous)


# --- withdrawals --------------------------------------------------------------------------


def withdrawal_request(
    *,
    player,
    amount: int,
    currency: str,
    method: str,
    provider: str,
    actor,
    card_type: str = "",
    provider_reference: str = "",
    account: AccountInfo | None = None,
) -> Payment:
    """Ask for a payout: compliance (KYC before withdrawal; AML review), then the money is
    reserved in the wallet (InsufficientFunds: nothing written), then the review rules.
    Screened clean it is auto-approved; flagged it waits in the queue with the money
    reserved. Above the brand's four-eyes threshold it needs two people's approval.

    Idempotent by (provider, provider_reference), like deposit_initiate: the money is
    reserved once."""
    return _once(Payment.Kind.WITHDRAWAL, _withdrawal_request, locals())


def _withdrawal_request(
    *,
    player,
    amount: int,
    currency: str,
    method: str,
    provider: str,
    actor,
    card_type: str = "",
    provider_reference: str = "",
    account: AccountInfo | None = None,
) -> Payment:
    """withdrawal_request, without its idempotency (see there)."""
    _amount_check(amount)
    if method not in Method.values:
        raise InvalidPayment(f"Unknown payment method {method!r}.", code="invalid_method")
    decision = compliance.check("withdraw", player, amount=amount, currency=currency)
    decision.raise_if_refused()
    source = wallet_for(player=player, currency_code=currency)
    if source is None:
        raise InvalidPayment(f"The player has no {currency} wallet.", code="no_wallet")
    with transaction.atomic(), audit_as(actor):
        payment = _new_payment(Payment.Kind.WITHDRAWAL, Status.REQUESTED, source, locals())
        policy = policy_for(player.brand_id)
        four_eyes = threshold_minor(policy.four_eyes_above, currency, payment.currency.exponent)
        payment.approvals_required = 2 if four_eyes is not None and amount > four_eyes else 1
        payment.save()
        wallet.withdrawal_reserve(
            wallet=source, amount=amount, actor=actor, **_wallet_key(payment, "reserve")
        )
        _publish(events.WithdrawalRequested, payment, actor=actor)
        flags = screen(payment, compliance_review=decision.review, compliance_rule=decision.rule)
        if flags or payment.approvals_required > 1:
            if not flags:
                flags = [_four_eyes_flag()]
            previous = _move(payment, "hold_for_review")
            _queue_for_review(payment, flags, actor=actor)
            _save(payment)
            _publish(events.PaymentFlagged, payment, actor=actor, previous=previous)
        else:
            previous = _move(payment, "auto_approve")
            _save(payment)
            _publish(events.PaymentApproved, payment, actor=actor, previous=previous, reason="auto")
    return payment


def _four_eyes_flag():
    from apps.payments.rules import Flag

    return Flag("four_eyes", "Above the brand's four-eyes threshold.")


def withdrawal_process(*, payment_id: int, actor) -> Payment:
    """Hand an approved withdrawal to the provider for payout (processing)."""
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        if _is_staff(actor):
            _require(actor, "payments.process_payouts", payment)
        if payment.status == Status.PROCESSING:
            return payment
        previous = _move(payment, "process")
        _save(payment)
        _publish(events.WithdrawalProcessing, payment, actor=actor, previous=previous)
    return payment


def withdrawal_paid(*, payment_id: int, actor, amount: int | None = None) -> Payment:
    """The provider paid the withdrawal out: the reserve leaves the wallet.

    `amount` is what the provider paid (default: the payment's amount). Less than reserved:
    the rest is released to cash. More: the difference is a forced debit (cash, then debt),
    since the money has gone. A payout reported before our approval is believed, flagged and
    recorded as an incident. Idempotent: a paid withdrawal is returned as it is. Refused
    (TransitionRefused) once rejected, cancelled or failed: the reserve was given back."""
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        if _is_staff(actor):
            # Before the repeat's answer: someone of another brand is told it does not exist.
            _require(actor, "payments.process_payouts", payment)
        if payment.status == Status.PAID:
            return payment
        # A person records a payout they sent; only a provider's report is believed ahead
        # of our own decision (the provider's money has moved, ours has not).
        if _is_staff(actor) and payment.status != Status.PROCESSING:
            raise TransitionRefused("Mark the payout as sent before marking it paid.", status=payment.status)
        if payment.kind != Payment.Kind.WITHDRAWAL or payment.status not in WITHDRAWAL_RESERVED:
            raise TransitionRefused(
                f"A {payment.kind} that is {payment.get_status_display().lower()} cannot be paid.",
                status=payment.status,
            )
        paid = payment.amount if amount is None else amount
        _amount_check(paid)
        early = payment.status not in (Status.PROCESSING, Status.APPROVED, Status.AUTO_APPROVED)
        key = _wallet_key(payment, "settle")
        wallet.withdrawal_settle(wallet=payment.wallet, amount=min(paid, payment.amount), actor=actor, **key)
        if paid < payment.amount:
            wallet.withdrawal_release(
                wallet=payment.wallet,
                amount=payment.amount - paid,
                actor=actor,
                **_wallet_key(payment, "release"),
            )
        elif paid > payment.amount:
            wallet.withdrawal_settle_forced(
                wallet=payment.wallet,
                amount=paid - payment.amount,
                actor=actor,
                **_wallet_key(payment, "forced"),
            )
            _flag_add(
                payment, "paid_more_than_reserved", f"Provider paid {paid}, {payment.amount} was reserved."
            )
        payment.claimed_by, payment.claimed_at = None, None
        previous = _move(payment, "pay")
        if early:
            _flag_add(payment, "paid_before_approval", f"Paid out while {previous}.")
            _incident(payment, "paid_before_approval", {"status": previous}, actor=actor)
        payment.queue, payment.sla_due_at = Queue.NONE, None
        _save(payment)
        _publish(events.WithdrawalPaid, payment, actor=actor, previous=previous)
    return payment


def withdrawal_cancel_by_player(*, payment_id: int, player) -> Payment:
    """The player takes back a withdrawal that has not been sent for payout; the reserve is
    released. Another player's payment is not found."""
    with transaction.atomic(), audit_as(player):
        payment = _locked(payment_id)
        if payment.player_id != player.pk or payment.kind != Payment.Kind.WITHDRAWAL:
            raise PaymentNotFound()
        if payment.status == Status.CANCELLED:
            return payment
        _end(payment, "cancel", events.PaymentCancelled, actor=player, reason="Cancelled by the player.")
    return payment


# --- endings (provider or staff) ------------------------------------------------------------


def payment_fail(*, payment_id: int, actor, reason: str = "") -> Payment:
    """The provider could not move the money; a withdrawal's reserve is released."""
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        if _is_staff(actor):
            # Staff fail only a payout they were handling; an item under review is rejected.
            _require(actor, "payments.process_payouts", payment)
            if payment.status not in (
                Status.APPROVED,
                Status.AUTO_APPROVED,
                Status.PROCESSING,
                Status.FAILED,
            ):
                raise TransitionRefused(
                    "Only an approved payout can be marked failed; reject an item under review.",
                    status=payment.status,
                )
        if payment.status == Status.FAILED:
            return payment
        _end(payment, "fail", events.PaymentFailed, actor=actor, reason=reason)
    return payment


def payment_cancel(*, payment_id: int, actor, reason: str = "") -> Payment:
    """Cancelled (by the provider) before the money moved; a withdrawal's reserve is released."""
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        if _is_staff(actor):
            _require(actor, "payments.process_payouts", payment)
        if payment.status == Status.CANCELLED:
            return payment
        _end(payment, "cancel", events.PaymentCancelled, actor=actor, reason=reason)
    return payment


def _end(payment: Payment, name: str, event_class, *, actor, reason: str) -> None:
    reserved = payment.kind == Payment.Kind.WITHDRAWAL and payment.status in WITHDRAWAL_RESERVED
    if payment.kind == Payment.Kind.DEPOSIT and payment.funds_received and payment.status != Status.COMPLETED:
        # The money arrived; ending the deposit now needs a person's decision (reject).
        raise TransitionRefused("The funds of this deposit have arrived; a reviewer must decide it.")
    previous = _move(payment, name)
    if reserved:
        wallet.withdrawal_release(
            wallet=payment.wallet, amount=payment.amount, actor=actor, **_wallet_key(payment, "release")
        )
    payment.claimed_by, payment.claimed_at = None, None
    payment.queue, payment.sla_due_at = Queue.NONE, None
    payment.decision_reason = (reason or "")[:500]
    _save(payment)
    _publish(event_class, payment, actor=actor, previous=previous, reason=payment.decision_reason)


def _incident(payment: Payment | None, code: str, detail: dict, *, actor, brand_id=None, provider="") -> None:
    PaymentIncident.objects.create(
        payment=payment,
        brand_id=payment.brand_id if payment else brand_id,
        provider=payment.provider if payment else provider,
        code=code,
        detail=detail,
    )
    if payment is not None:
        _publish(events.PaymentIncidentRecorded, payment, actor=actor, reason=code)


def incident_record(
    *, payment_id: int | None, brand_id: int, provider: str, code: str, detail: dict, actor
) -> None:
    """Record what a provider did that the protocol refuses, for a person to look at.

    Inside a caller's transaction this is a savepoint that commits with it: a caller that
    refuses must record the incident after rolling back its own business writes (as the
    PaymentIQ adapter does), so that the incident survives the refusal it explains."""
    with transaction.atomic():
        payment = Payment.objects.filter(pk=payment_id).first() if payment_id else None
        _incident(payment, code, detail, actor=actor, brand_id=brand_id, provider=provider)


def incident_resolve(*, actor, incident_id: int) -> PaymentIncident:
    """A person has looked at an incident and closes it (payments.change_paymentincident on
    its brand; another brand's incident is not found). Idempotent: a resolved incident is
    returned as it is, naming who resolved it first."""
    with transaction.atomic(), audit_as(actor):
        incident = PaymentIncident.objects.select_for_update().filter(pk=incident_id).first()
        if incident is None or not user_can(
            actor, "payments.view_paymentincident", brand_id=incident.brand_id
        ):
            raise PaymentNotFound("No such incident.")
        if not user_can(actor, "payments.change_paymentincident", brand_id=incident.brand_id):
            raise PaymentPermissionDenied()
        if incident.resolved_at is None:
            incident.resolved_at, incident.resolved_by = timezone.now(), actor
            incident.save(update_fields=["resolved_at", "resolved_by"])
    return incident


# --- the review queue -----------------------------------------------------------------------


def review_claim(*, actor, payment_id: int) -> Payment:
    """Take a queued item: from now on only `actor` can decide it (until unclaimed).

    The payment row is locked, so of two reviewers claiming at once one wins and the other
    gets ReviewConflict. A senior-queue item needs payments.review_senior_queue."""
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        _require(actor, "payments.review_payments", payment)
        if payment.queue == Queue.SENIOR and not user_can(
            actor, "payments.review_senior_queue", brand_id=payment.brand_id
        ):
            raise PaymentPermissionDenied(
                "Only the senior queue's reviewers can take this item.", code="senior_queue"
            )
        if payment.status == Status.IN_REVIEW:
            if payment.claimed_by_id == actor.pk:
                return payment
            raise ReviewConflict(f"{payment.claimed_by} is reviewing this item.", code="claimed_by_other")
        if payment.status not in AWAITING_REVIEW:
            raise ReviewConflict("This item is not waiting for review.", code="not_in_queue")
        previous = _move(payment, "claim")
        payment.claimed_by, payment.claimed_at = actor, timezone.now()
        _record(payment, ReviewAction.Action.CLAIMED, actor=actor)
        _save(payment)
        _publish(events.ReviewClaimed, payment, actor=actor, previous=previous)
    return payment


def review_unclaim(*, actor, payment_id: int, reason: str = "") -> Payment:
    """Put a claimed item back in the queue (its holder, or a senior reviewer taking it back)."""
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        _require(actor, "payments.review_payments", payment)
        if payment.status != Status.IN_REVIEW:
            raise ReviewConflict("This item is not claimed.", code="not_claimed")
        if payment.claimed_by_id != actor.pk and not user_can(
            actor, "payments.review_senior_queue", brand_id=payment.brand_id
        ):
            raise ReviewConflict("Only its reviewer can put this item back.", code="claimed_by_other")
        previous = _unclaim(payment)
        _record(payment, ReviewAction.Action.UNCLAIMED, actor=actor, reason=reason)
        _save(payment)
        _publish(events.ReviewUnclaimed, payment, actor=actor, previous=previous, reason=reason)
    return payment


def _unclaim(payment: Payment) -> str:
    name = "unclaim_deposit" if payment.kind == Payment.Kind.DEPOSIT else "unclaim_withdrawal"
    previous = _move(payment, name)
    payment.claimed_by, payment.claimed_at = None, None
    return previous


def _held_by(actor, payment: Payment) -> None:
    if payment.status != Status.IN_REVIEW:
        raise ReviewConflict("Claim the item before deciding it.", code="not_claimed")
    if payment.claimed_by_id != actor.pk:
        raise ReviewConflict(f"{payment.claimed_by} is reviewing this item.", code="claimed_by_other")


def review_approve(*, actor, payment_id: int, reason: str = "") -> Payment:
    """Approve a claimed item. Four eyes: a payment that needs two approvals records the first
    and goes back to the queue; the second must come from a different person (FourEyes),
    holding payments.approve_large_withdrawal. The last approval approves: a funded deposit
    is credited and completed (if the wallet's guard refuses the credit, the approval is
    refused with its GuardRefusal and nothing changes); a withdrawal waits for payout."""
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        _require(actor, "payments.approve_payment", payment)
        _held_by(actor, payment)
        already = payment.approvals.filter(staff=actor).exists()
        if already and payment.approvals_required > 1:
            raise FourEyes("You approved this payment already; another person must give the second approval.")
        # One approval needed: a person approving again (a deposit back in the queue because
        # its credit was refused) gives the same approval once more, not a second one.
        given = payment.approvals.exclude(staff=actor).count()
        final = given + 1 >= payment.approvals_required
        if (
            final
            and payment.approvals_required > 1
            and not user_can(actor, "payments.approve_large_withdrawal", brand_id=payment.brand_id)
        ):
            raise PaymentPermissionDenied("The final approval of this payment needs a senior approver.")
        if not already:
            PaymentApproval.objects.create(payment=payment, staff=actor, note=(reason or "")[:500])
        _record(payment, ReviewAction.Action.APPROVED, actor=actor, reason=reason)
        if not final:
            previous = _unclaim(payment)
            _save(payment)
            _publish(events.PaymentApprovalRecorded, payment, actor=actor, previous=previous, reason=reason)
            return payment
        previous = _move(payment, "approve")
        payment.claimed_by, payment.claimed_at = None, None
        payment.queue, payment.sla_due_at = Queue.NONE, None
        payment.decided_at, payment.decision_reason = timezone.now(), (reason or "")[:500]
        _save(payment)
        _publish(events.PaymentApproved, payment, actor=actor, previous=previous, reason=reason)
        if payment.kind == Payment.Kind.DEPOSIT and payment.funds_received:
            # A guard refusing the credit refuses the approval: it rolls back (no approval
            # recorded, still claimed), so the reviewer is told, and can reject instead.
            _deposit_credit(payment, actor=actor, hold=False)
    return payment


def review_reject(*, actor, payment_id: int, reason: str) -> Payment:
    """Reject a claimed item, with a reason. A withdrawal's reserve is released; a funded
    deposit is left uncredited (its money is to be returned to the payer)."""
    reason = _reason(reason)
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        _require(actor, "payments.approve_payment", payment)
        _held_by(actor, payment)
        reserved = payment.kind == Payment.Kind.WITHDRAWAL
        previous = _move(payment, "reject")
        if reserved:
            wallet.withdrawal_release(
                wallet=payment.wallet, amount=payment.amount, actor=actor, **_wallet_key(payment, "release")
            )
        payment.claimed_by, payment.claimed_at = None, None
        payment.queue, payment.sla_due_at = Queue.NONE, None
        payment.decided_at, payment.decision_reason = timezone.now(), reason
        _record(payment, ReviewAction.Action.REJECTED, actor=actor, reason=reason)
        _save(payment)
        _publish(events.PaymentRejected, payment, actor=actor, previous=previous, reason=reason)
    return payment


def review_escalate(*, actor, payment_id: int, reason: str) -> Payment:
    """Send an item to the senior queue (unclaimed), with a new deadline."""
    reason = _reason(reason)
    with transaction.atomic(), audit_as(actor):
        payment = _locked(payment_id)
        _require(actor, "payments.escalate_payment", payment)
        if payment.status == Status.IN_REVIEW and payment.claimed_by_id not in (None, actor.pk):
            raise ReviewConflict(f"{payment.claimed_by} is reviewing this item.", code="claimed_by_other")
        _escalate(payment, actor=actor, reason=reason)
    return payment


def _escalate(payment: Payment, *, actor, reason: str) -> None:
    if payment.status not in (*AWAITING_REVIEW, Status.IN_REVIEW):
        raise ReviewConflict("This item is not under review.", code="not_in_queue")
    if payment.queue == Queue.SENIOR:
        raise ReviewConflict("This item is in the senior queue already.", code="already_escalated")
    previous = payment.status
    if payment.status == Status.IN_REVIEW:
        _unclaim(payment)
    now = timezone.now()
    payment.queue, payment.escalated_at = Queue.SENIOR, now
    payment.sla_due_at = now + timedelta(minutes=policy_for(payment.brand_id).senior_sla_minutes)
    payment.updated_at = now
    _record(payment, ReviewAction.Action.ESCALATED, actor=actor, reason=reason)
    _save(payment)
    _publish(events.ReviewEscalated, payment, actor=actor, previous=previous, reason=reason)


def reviews_escalate_overdue(*, now=None, batch: int = 500) -> int:
    """Move every standard-queue item past its deadline to the senior queue (the SLA timer).

    Each item in its own short transaction, skipping rows another worker holds, so the task
    can run on several workers and repeat safely. The number escalated."""
    now = now or timezone.now()
    done = 0
    ids = list(
        Payment.objects.filter(
            queue=Queue.STANDARD, sla_due_at__lte=now, status__in=(*AWAITING_REVIEW, Status.IN_REVIEW)
        )
        .order_by("sla_due_at")
        .values_list("pk", flat=True)[:batch]
    )
    for payment_id in ids:
        with transaction.atomic(), audit_as(SYSTEM):
            payment = (
                Payment.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=payment_id, queue=Queue.STANDARD, sla_due_at__lte=now)
                .first()
            )
            if payment is None or payment.status not in (*AWAITING_REVIEW, Status.IN_REVIEW):
                continue
            _escalate(payment, actor=SYSTEM, reason="SLA breached")
            done += 1
    return done


def review_bulk_approve(*, actor, payment_ids: list[int], reason: str = "") -> dict:
    """Approve many low-risk items (only low-risk flags, one approval needed), each claimed and
    approved in its own transaction. Returns {"approved": [...], "skipped": {id: why}}."""
    approved, skipped = [], {}
    for payment_id in payment_ids:
        try:
            with transaction.atomic():
                payment = _locked(payment_id)
                _require(actor, "payments.bulk_approve_payments", payment)
                if not low_risk(payment):
                    raise ReviewConflict("Not low risk: review it on its own.", code="not_low_risk")
                if payment.status != Status.IN_REVIEW:
                    review_claim(actor=actor, payment_id=payment_id)
                review_approve(
                    actor=actor, payment_id=payment_id, reason=reason or "bulk approval (low risk)"
                )
            approved.append(payment_id)
        except (
            ReviewConflict,
            TransitionRefused,
            PaymentNotFound,
            PaymentPermissionDenied,
            FourEyes,
            GuardRefusal,
        ) as exc:
            skipped[payment_id] = exc.message
    return {"approved": approved, "skipped": skipped}
