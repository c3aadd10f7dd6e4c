"""Review races on PostgreSQL: threads released together, each on its own connection.

The payment row is locked before its status is read (services.py), so of two people acting
on one item at once exactly one wins and the other is refused; the money moves once."""

import pytest

from apps.payments import services
from apps.payments.exceptions import ReviewConflict, TransitionRefused
from apps.payments.models import Payment, ReviewAction, Status
from apps.wallet.models import LedgerTransaction
from tests.payments.conftest import PROVIDER, STARTING_CASH
from tests.payments.states import (
    W,
    lenient_policy,
    payment_in,
    roles,  # noqa: F401 - fixture: faster role groups
)
from tests.wallet.ledger import assert_ledger_consistent, balances
from tests.wallet.test_concurrency import _one_race_at_a_time, run_together  # noqa: F401 - fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
AMOUNT = 10_000


@pytest.fixture(autouse=True)
def _policy(brand):
    return lenient_policy(brand)


def test_of_many_reviewers_claiming_one_item_exactly_one_wins(
    brand, player, funded_wallet, reviewer, make_staff
):
    # given an item in the queue and eight reviewers of the brand
    payment = payment_in(W, Status.PENDING_REVIEW, player=player, reviewer=reviewer, amount=AMOUNT)
    reviewers = [make_staff("Payments reviewer", brands=[brand]) for _ in range(THREADS)]

    # when they all claim it at once
    outcomes = run_together(
        [lambda who=who: services.review_claim(actor=who, payment_id=payment.pk) for who in reviewers]
    )

    # then one holds it and every other one was told someone else does
    winners = [index for index, (kind, _) in enumerate(outcomes) if kind == "ok"]
    assert len(winners) == 1, outcomes
    refused = [value for kind, value in outcomes if kind == "error"]
    assert len(refused) == THREADS - 1
    assert all(isinstance(error, ReviewConflict) and error.code == "claimed_by_other" for error in refused), (
        refused
    )
    payment.refresh_from_db()
    assert (payment.status, payment.claimed_by_id) == (Status.IN_REVIEW, reviewers[winners[0]].pk)
    claims = ReviewAction.objects.filter(payment=payment, action="claimed")
    assert list(claims.values_list("staff_id", flat=True)) == [reviewers[winners[0]].pk]


def test_an_approval_and_a_rejection_at_once_exactly_one_wins_and_the_wallet_is_exact(
    player, funded_wallet, reviewer
):
    # given five claimed withdrawals, each approved and rejected at the same moment
    payments = [
        payment_in(W, Status.IN_REVIEW, player=player, reviewer=reviewer, amount=AMOUNT + n) for n in range(5)
    ]
    calls = []
    for payment in payments:
        calls.append(
            lambda pk=payment.pk: services.review_approve(actor=reviewer, payment_id=pk, reason="ok")
        )
        calls.append(lambda pk=payment.pk: services.review_reject(actor=reviewer, payment_id=pk, reason="no"))

    outcomes = run_together(calls)

    # then, for each, exactly one decision was taken and the other refused
    reserved = 0
    for index, payment in enumerate(payments):
        approve, reject = outcomes[2 * index], outcomes[2 * index + 1]
        assert sorted([approve[0], reject[0]]) == ["error", "ok"], (approve, reject)
        loser = approve if approve[0] == "error" else reject
        assert isinstance(loser[1], ReviewConflict) and loser[1].code == "not_claimed", loser
        payment.refresh_from_db()
        if approve[0] == "ok":
            assert payment.status == Status.APPROVED
            reserved += payment.amount
            expected_rows = ["withdrawal_reserve"]
        else:
            assert payment.status == Status.REJECTED
            expected_rows = ["withdrawal_reserve", "withdrawal_release"]
        rows = LedgerTransaction.objects.filter(payment_ref=str(payment.reference)).order_by("pk")
        assert list(rows.values_list("kind", flat=True)) == expected_rows
        decisions = ReviewAction.objects.filter(payment=payment, action__in=["approved", "rejected"])
        assert decisions.count() == 1
    # and the wallet holds exactly what the decisions imply
    assert balances(funded_wallet) == {
        "cash": STARTING_CASH - reserved,
        "bonus": 0,
        "reserved": reserved,
        "debt": 0,
    }
    assert_ledger_consistent(funded_wallet)


def test_a_payout_and_a_player_cancel_at_once_move_the_money_once(player, funded_wallet, reviewer):
    # given approved withdrawals the provider pays while the player cancels them
    payments = [
        payment_in(W, Status.AUTO_APPROVED, player=player, reviewer=reviewer, amount=AMOUNT + n)
        for n in range(4)
    ]
    calls = []
    for payment in payments:
        calls.append(lambda pk=payment.pk: services.withdrawal_paid(payment_id=pk, actor=PROVIDER))
        calls.append(lambda pk=payment.pk: services.withdrawal_cancel_by_player(payment_id=pk, player=player))

    outcomes = run_together(calls)

    paid = 0
    for index, payment in enumerate(payments):
        pay, cancel = outcomes[2 * index], outcomes[2 * index + 1]
        payment.refresh_from_db()
        if payment.status == Status.PAID:
            # the payout came first: the cancel is refused
            assert pay[0] == "ok" and cancel[0] == "error" and isinstance(cancel[1], TransitionRefused)
            paid += payment.amount
        else:
            # the cancel came first: the payout is refused (the reserve went back)
            assert payment.status == Status.CANCELLED
            assert cancel[0] == "ok" and pay[0] == "error" and isinstance(pay[1], TransitionRefused)
    assert balances(funded_wallet) == {"cash": STARTING_CASH - paid, "bonus": 0, "reserved": 0, "debt": 0}
    assert_ledger_consistent(funded_wallet)
    assert Payment.objects.filter(status__in=[Status.PAID, Status.CANCELLED]).count() == 4
