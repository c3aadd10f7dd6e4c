"""Staff doors of the manual bank transfer adapter: a person records what the bank did.

Each door checks that the payment is one staff settle (the adapter registered with
settled_by="staff"), then calls the payment services with the staff user as the actor; the
services check the person's permission on the brand, lock the payment and move the money.
"""

from django.db import IntegrityError, transaction

from apps.payments import services
from apps.payments.exceptions import InvalidPayment, PaymentNotFound, ReasonRequired, TransitionRefused
from apps.payments.models import Method, Payment, Status
from apps.payments.providers.manual import CODE
from apps.payments.providers.registry import provider_get
from apps.tenants.permissions import user_can

# A payout is recorded as paid only after it was marked sent; a bounced transfer is
# recorded as failed once the payout was decided (a payout under review is rejected instead).
FAILABLE = (Status.AUTO_APPROVED, Status.APPROVED, Status.PROCESSING)


def staff_settled(payment: Payment) -> bool:
    """Is this a payment whose money a person moves (and so records)?"""
    adapter = provider_get(payment.provider)
    return adapter is not None and adapter.settled_by == "staff"


def bank_deposit_record(*, actor, player, amount: int, currency: str, bank_reference: str) -> Payment:
    """A transfer seen on the operator's bank account becomes a deposit, credited at once.

    The money is already on the account, so the deposit is confirmed right after it is
    started: screened clean it is credited and completed; flagged it waits in the review
    queue marked as funded. Both steps are one transaction: a refusal leaves nothing. The
    bank reference is the provider reference: a second deposit with it is refused."""
    if not user_can(actor, "payments.record_manual_deposit", brand_id=player.brand_id):
        raise PaymentNotFound("No such player.")
    bank_reference = (bank_reference or "").strip()
    if not bank_reference:
        raise InvalidPayment("The bank reference is required.", code="reference_required")
    try:
        with transaction.atomic():
            payment = services.deposit_initiate(
                player=player,
                amount=amount,
                currency=currency,
                method=Method.BANK_TRANSFER,
                provider=CODE,
                provider_reference=bank_reference,
                actor=actor,
            )
            return services.deposit_confirm(payment_id=payment.pk, actor=actor)
    except IntegrityError as exc:
        if Payment.objects.filter(provider=CODE, provider_reference=bank_reference).exists():
            raise InvalidPayment(
                f"The bank reference {bank_reference} was recorded already.", code="duplicate_reference"
            ) from exc
        raise


def _payout(payment: Payment) -> None:
    if payment.kind != Payment.Kind.WITHDRAWAL or not staff_settled(payment):
        raise InvalidPayment(
            "Only a payout by manual bank transfer is recorded by staff; the provider reports the others.",
            code="not_staff_settled",
        )


def payout_sent(*, actor, payment: Payment) -> Payment:
    """The transfer was sent from the operator's bank account (processing)."""
    _payout(payment)
    return services.withdrawal_process(payment_id=payment.pk, actor=actor)


def payout_paid(*, actor, payment: Payment) -> Payment:
    """The bank confirms the transfer: the reserved money leaves the wallet."""
    _payout(payment)
    if payment.status not in (Status.PROCESSING, Status.PAID):
        raise TransitionRefused("Mark the payout sent before marking it paid.", status=payment.status)
    return services.withdrawal_paid(payment_id=payment.pk, actor=actor)


def payout_failed(*, actor, payment: Payment, reason: str) -> Payment:
    """The transfer could not be made or bounced: the reserve goes back to the player's cash."""
    _payout(payment)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("A reason is required to mark a payout failed.")
    if payment.status not in (*FAILABLE, Status.FAILED):
        raise TransitionRefused(
            "Only a decided payout can fail; reject a payout under review instead.", status=payment.status
        )
    return services.payment_fail(payment_id=payment.pk, actor=actor, reason=reason)
