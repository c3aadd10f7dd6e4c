"""End to end through the services: a deposit credited, a withdrawal reviewed and paid."""

from apps.payments import services
from apps.payments.models import Status
from apps.wallet.models import Wallet
from tests.payments.conftest import PROVIDER, STARTING_CASH


def test_clean_deposit_is_credited_when_the_provider_confirms(deposit, funded_wallet, policy):
    payment = deposit(amount=2_500)
    assert payment.status == Status.PENDING

    services.deposit_confirm(payment_id=payment.pk, actor=PROVIDER)

    payment.refresh_from_db()
    assert payment.status == Status.COMPLETED
    assert Wallet.objects.get(pk=funded_wallet.pk).cash == STARTING_CASH + 2_500


def test_withdrawal_held_for_review_then_approved_and_paid(withdrawal, reviewer, policy, funded_wallet):
    payment = withdrawal(amount=10_000)
    assert payment.status == Status.PENDING_REVIEW
    assert "first_withdrawal" in payment.flag_codes
    assert Wallet.objects.get(pk=funded_wallet.pk).reserved == 10_000

    services.review_claim(actor=reviewer, payment_id=payment.pk)
    services.review_approve(actor=reviewer, payment_id=payment.pk, reason="ok")
    services.withdrawal_paid(payment_id=payment.pk, actor=PROVIDER)

    payment.refresh_from_db()
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert payment.status == Status.PAID
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH - 10_000, 0)
