"""The review queue: claim, unclaim, approve (four eyes), reject, escalate, the SLA timer, bulk."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.core.actors import audit_as
from apps.core.guards import GuardRefusal
from apps.observability import metrics
from apps.payments import events
from apps.payments.exceptions import (
    FourEyes,
    PaymentNotFound,
    PaymentPermissionDenied,
    ReviewConflict,
    TransitionRefused,
)
from apps.payments.models import (
    AWAITING_REVIEW,
    Payment,
    PaymentApproval,
    Queue,
    ReviewAction,
    Status,
)
from apps.payments.rules import low_risk, policy_for
from apps.payments.services._common import (
    SYSTEM,
    _locked,
    _move,
    _publish,
    _reason,
    _record,
    _require,
    _save,
    _wallet_key,
)
from apps.payments.services.payments import _deposit_credit
from apps.tenants.permissions import user_can
from apps.wallet import services as wallet

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
    if done:
        metrics.REVIEW_SLA_ESCALATIONS.inc(done)
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
