"""A withdrawal's money, exactly: reserved when requested, released when it ends without a
payout, settled when paid (the rest released, or more taken by a forced debit that becomes
debt where cash lacks). After every step the wallet equals the sum of its ledger entries."""

import pytest

from apps.core.models import Event
from apps.payments import services
from apps.payments.exceptions import InvalidPayment
from apps.payments.models import Payment, PaymentAccount, Status
from apps.wallet.exceptions import InsufficientFunds
from apps.wallet.models import LedgerTransaction, Wallet
from tests.payments.conftest import PROVIDER, STARTING_CASH
from tests.payments.states import (
    W,
    lenient_policy,
    payment_in,
    roles,  # noqa: F401 - fixture: faster role groups
    snapshot,
    withdrawal_start,
)
from tests.wallet.ledger import assert_ledger_consistent, balances

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

AMOUNT = 30_000


@pytest.fixture(autouse=True)
def _policy(brand):
    return lenient_policy(brand)


def money(wallet) -> dict:
    """The wallet's buckets, after checking they equal the ledger's entries."""
    assert_ledger_consistent(wallet)
    return balances(wallet)


def kinds(payment) -> list[str]:
    return list(
        LedgerTransaction.objects.filter(payment_ref=str(payment.reference))
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def test_a_request_reserves_the_amount(player, funded_wallet):
    payment = withdrawal_start(player, AMOUNT, review=False)

    assert money(funded_wallet) == {"cash": STARTING_CASH - AMOUNT, "bonus": 0, "reserved": AMOUNT, "debt": 0}
    assert kinds(payment) == ["withdrawal_reserve"]


def test_a_request_beyond_the_cash_writes_nothing(player, funded_wallet):
    before = {
        "payments": Payment.objects.count(),
        "accounts": PaymentAccount.objects.count(),
        "ledger": LedgerTransaction.objects.count(),
        "events": Event.objects.count(),
        "wallet": balances(funded_wallet),
    }

    with pytest.raises(InsufficientFunds):
        withdrawal_start(player, STARTING_CASH + 1, review=True)

    assert {
        "payments": Payment.objects.count(),
        "accounts": PaymentAccount.objects.count(),
        "ledger": LedgerTransaction.objects.count(),
        "events": Event.objects.count(),
        "wallet": balances(funded_wallet),
    } == before


RELEASED = {"cash": STARTING_CASH, "bonus": 0, "reserved": 0, "debt": 0}


@pytest.mark.parametrize(
    "start, end",
    [
        (Status.IN_REVIEW, "reject"),
        (Status.PENDING_REVIEW, "player cancel"),
        (Status.APPROVED, "player cancel"),
        (Status.AUTO_APPROVED, "provider cancel"),
        (Status.PENDING_REVIEW, "fail"),
        (Status.PROCESSING, "fail"),
    ],
)
def test_an_end_without_payout_releases_the_reserve_once(start, end, player, funded_wallet, reviewer):
    payment = payment_in(W, start, player=player, reviewer=reviewer, amount=AMOUNT)
    call = {
        "reject": lambda: services.review_reject(actor=reviewer, payment_id=payment.pk, reason="no"),
        "player cancel": lambda: services.withdrawal_cancel_by_player(payment_id=payment.pk, player=player),
        "provider cancel": lambda: services.payment_cancel(payment_id=payment.pk, actor=PROVIDER),
        "fail": lambda: services.payment_fail(payment_id=payment.pk, actor=PROVIDER, reason="bank said no"),
    }[end]

    call()
    after_first = snapshot(payment)
    if end != "reject":
        call()  # a repeat (the provider's retry, the player's double click) moves nothing more
        assert snapshot(payment) == after_first

    assert money(funded_wallet) == RELEASED
    assert kinds(payment) == ["withdrawal_reserve", "withdrawal_release"]


def test_a_payout_settles_the_reserve_once(player, funded_wallet, reviewer):
    payment = payment_in(W, Status.PROCESSING, player=player, reviewer=reviewer, amount=AMOUNT)

    services.withdrawal_paid(payment_id=payment.pk, actor=PROVIDER)
    after_first = snapshot(payment)
    services.withdrawal_paid(payment_id=payment.pk, actor=PROVIDER)

    assert snapshot(payment) == after_first
    assert money(funded_wallet) == {"cash": STARTING_CASH - AMOUNT, "bonus": 0, "reserved": 0, "debt": 0}
    assert kinds(payment) == ["withdrawal_reserve", "withdrawal_settle"]


def test_a_smaller_payout_releases_the_rest(player, funded_wallet, reviewer):
    payment = payment_in(W, Status.PROCESSING, player=player, reviewer=reviewer, amount=AMOUNT)

    services.withdrawal_paid(payment_id=payment.pk, actor=PROVIDER, amount=AMOUNT - 1_234)

    payment.refresh_from_db()
    assert payment.status == Status.PAID
    assert money(funded_wallet) == {
        "cash": STARTING_CASH - AMOUNT + 1_234,
        "bonus": 0,
        "reserved": 0,
        "debt": 0,
    }
    assert kinds(payment) == ["withdrawal_reserve", "withdrawal_settle", "withdrawal_release"]


def test_a_larger_payout_takes_the_difference_from_cash(player, funded_wallet, reviewer):
    payment = payment_in(W, Status.PROCESSING, player=player, reviewer=reviewer, amount=AMOUNT)

    services.withdrawal_paid(payment_id=payment.pk, actor=PROVIDER, amount=AMOUNT + 500)

    payment.refresh_from_db()
    assert payment.status == Status.PAID
    assert "paid_more_than_reserved" in payment.flag_codes
    assert money(funded_wallet) == {
        "cash": STARTING_CASH - AMOUNT - 500,
        "bonus": 0,
        "reserved": 0,
        "debt": 0,
    }
    assert kinds(payment) == ["withdrawal_reserve", "withdrawal_settle", "withdrawal_forced"]


def test_a_larger_payout_than_the_cash_covers_becomes_debt(player, funded_wallet, reviewer):
    # given 90,000 reserved and 10,000 cash left
    payment = payment_in(W, Status.PROCESSING, player=player, reviewer=reviewer, amount=90_000)

    # when the provider pays out 120,000
    services.withdrawal_paid(payment_id=payment.pk, actor=PROVIDER, amount=120_000)

    # then the reserve is settled, the cash taken and the 20,000 it lacked is owed
    assert money(funded_wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 20_000}
    assert kinds(payment) == ["withdrawal_reserve", "withdrawal_settle", "withdrawal_forced"]


def test_a_payout_reported_before_approval_is_believed_flagged_and_recorded(player, funded_wallet, reviewer):
    payment = payment_in(W, Status.IN_REVIEW, player=player, reviewer=reviewer, amount=AMOUNT)

    services.withdrawal_paid(payment_id=payment.pk, actor=PROVIDER)

    payment.refresh_from_db()
    assert (payment.status, payment.claimed_by_id) == (Status.PAID, None)
    assert "paid_before_approval" in payment.flag_codes
    assert list(payment.incidents.values_list("code", flat=True)) == ["paid_before_approval"]
    assert money(funded_wallet) == {"cash": STARTING_CASH - AMOUNT, "bonus": 0, "reserved": 0, "debt": 0}


@pytest.mark.parametrize("bad", [0, -1, 1.5, "100", True, 2**63])
def test_a_payout_of_a_bad_amount_is_refused_and_changes_nothing(bad, player, funded_wallet, reviewer):
    payment = payment_in(W, Status.PROCESSING, player=player, reviewer=reviewer, amount=AMOUNT)
    before = snapshot(payment)

    with pytest.raises(InvalidPayment):
        services.withdrawal_paid(payment_id=payment.pk, actor=PROVIDER, amount=bad)

    assert snapshot(payment) == before


@pytest.mark.parametrize("bad", [0, -5, 2.5, "10", None, True, 2**63])
def test_a_request_of_a_bad_amount_is_refused_and_writes_nothing(bad, player, funded_wallet):
    payments_before, ledger_before = Payment.objects.count(), LedgerTransaction.objects.count()

    with pytest.raises(InvalidPayment):
        withdrawal_start(player, bad, review=False)

    assert (Payment.objects.count(), LedgerTransaction.objects.count()) == (payments_before, ledger_before)
    assert money(funded_wallet) == RELEASED


def test_a_withdrawal_in_a_currency_without_a_wallet_is_refused(player, funded_wallet):
    # the brand offers GBP only; the player has no EUR wallet
    with pytest.raises(InvalidPayment) as refused:
        services.withdrawal_request(
            player=player, amount=100, currency="EUR", method="card", provider="paymentiq", actor=PROVIDER
        )
    assert refused.value.code == "no_wallet"
    assert Payment.objects.count() == 0
    assert Wallet.objects.get(pk=funded_wallet.pk).cash == STARTING_CASH
