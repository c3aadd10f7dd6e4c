"""Deposits and withdrawals: starting them, the provider's outcome, endings and incidents."""

from django.db import transaction
from django.utils import timezone

from apps.compliance import interface as compliance
from apps.core.actors import audit_as
from apps.core.guards import GuardRefusal
from apps.payments import events
from apps.payments.exceptions import (
    InvalidPayment,
    PaymentNotFound,
    PaymentPermissionDenied,
    TransitionRefused,
)
from apps.payments.models import (
    WITHDRAWAL_RESERVED,
    Method,
    Payment,
    PaymentIncident,
    Queue,
    ReviewAction,
    Status,
)
from apps.payments.rules import policy_for, screen, threshold_minor
from apps.payments.services._common import (
    AccountInfo,
    _amount_check,
    _compliance_method,
    _flag_add,
    _is_staff,
    _locked,
    _move,
    _new_payment,
    _once,
    _publish,
    _queue_for_review,
    _record,
    _require,
    _save,
    _wallet_key,
)
from apps.tenants.permissions import user_can
from apps.wallet import services as wallet
from apps.wallet.exceptions import InvalidAmount
from apps.wallet.selectors import wallet_for

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
