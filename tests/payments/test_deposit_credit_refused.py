"""A deposit whose credit the wallet's guard refuses after it started (a deposit limit set
or a self-exclusion begun between initiate and confirm): the money is held in the review
queue, never credited past the guard, and a person decides it."""

import pytest

from apps.payments import services
from apps.payments.models import Queue, ReviewAction, Status
from apps.responsible_gaming import services as rg
from apps.responsible_gaming.exceptions import LimitReached, PlayerBlocked
from apps.responsible_gaming.refusals import refusals_flush
from apps.wallet.models import LedgerTransaction, Wallet
from tests.payments.conftest import PROVIDER
from tests.payments.states import (
    deposit_start,
    event_types,
    last_event_id,
    lenient_policy,
    roles,  # noqa: F401 - fixture: faster role groups
    snapshot,
)
from tests.wallet.ledger import assert_ledger_consistent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

AMOUNT = 5_000


def deposits_credited(player) -> int:
    return LedgerTransaction.objects.filter(wallet__player=player, kind="deposit").count()


def start_then_block(player, how: str, *, review: bool = False):
    """A deposit started while nothing stopped it; then the player is limited or excluded."""
    payment = deposit_start(player, AMOUNT, review=review)
    if how == "deposit limit":
        rg.limit_set(actor=player, player=player, kind="deposit", period="day", amount=AMOUNT - 1)
    else:
        rg.self_exclusion_start(actor=player, player=player, months=6)
    return payment


BLOCKS = ["deposit limit", "self-exclusion"]
REFUSAL = {"deposit limit": LimitReached, "self-exclusion": PlayerBlocked}


@pytest.mark.parametrize("how", BLOCKS)
def test_a_credit_the_guard_refuses_is_held_funded_in_the_queue(how, brand, player):
    # given a pending deposit, and then a limit or an exclusion the credit would break
    lenient_policy(brand)
    payment = start_then_block(player, how)
    assert payment.status == Status.PENDING
    events_before = last_event_id()

    # when the provider confirms the money arrived
    services.deposit_confirm(payment_id=payment.pk, actor=PROVIDER)

    # then it waits in the review queue, funded, flagged credit_refused, and nothing is credited
    payment.refresh_from_db()
    assert payment.status == Status.FLAGGED
    assert payment.funds_received is True
    assert payment.flag_codes == ["credit_refused"]
    assert payment.queue == Queue.STANDARD and payment.sla_due_at is not None
    assert deposits_credited(player) == 0
    assert Wallet.objects.get(player=player).cash == 0
    assert event_types(payment, after=events_before) == ["payments.payment_flagged"]
    assert ReviewAction.objects.filter(payment=payment).last().action == ReviewAction.Action.FLAGGED


@pytest.mark.parametrize("how", BLOCKS)
def test_approving_a_refused_credit_is_refused_again_and_changes_nothing(how, brand, player, reviewer):
    # given a funded deposit held because the guard refused its credit, claimed by a reviewer
    lenient_policy(brand)
    payment = start_then_block(player, how)
    services.deposit_confirm(payment_id=payment.pk, actor=PROVIDER)
    services.review_claim(actor=reviewer, payment_id=payment.pk)
    before = snapshot(payment)

    # when the reviewer approves it while the limit or exclusion still stands
    with pytest.raises(REFUSAL[how]):
        services.review_approve(actor=reviewer, payment_id=payment.pk, reason="looks fine")

    # then the guard refuses again: no money is credited and the item is as it was, still
    # the reviewer's to decide
    assert snapshot(payment) == before
    assert deposits_credited(player) == 0
    payment.refresh_from_db()
    assert (payment.status, payment.claimed_by_id) == (Status.IN_REVIEW, reviewer.pk)


@pytest.mark.parametrize("how", BLOCKS)
def test_rejecting_a_refused_credit_works_and_credits_nothing(how, brand, player, reviewer):
    lenient_policy(brand)
    payment = start_then_block(player, how)
    services.deposit_confirm(payment_id=payment.pk, actor=PROVIDER)
    services.review_claim(actor=reviewer, payment_id=payment.pk)

    services.review_reject(actor=reviewer, payment_id=payment.pk, reason="over the player's limit; refund")

    payment.refresh_from_db()
    assert payment.status == Status.REJECTED
    assert payment.decision_reason == "over the player's limit; refund"
    assert (payment.queue, payment.claimed_by_id) == (Queue.NONE, None)
    assert deposits_credited(player) == 0
    assert Wallet.objects.get(player=player).cash == 0
    assert_ledger_consistent(Wallet.objects.get(player=player))


def test_the_refused_credit_is_credited_once_the_limit_allows_it(brand, player, reviewer):
    # given a refused credit held for review because of a deposit limit
    lenient_policy(brand)
    payment = start_then_block(player, "deposit limit")
    services.deposit_confirm(payment_id=payment.pk, actor=PROVIDER)
    services.review_claim(actor=reviewer, payment_id=payment.pk)
    with pytest.raises(LimitReached):
        services.review_approve(actor=reviewer, payment_id=payment.pk, reason="first try")
    refusals_flush()

    # when the limit is lifted (a lower limit applies at once; the raise is scheduled, so
    # here the limit row is removed as the cooling-off would) and the reviewer approves again
    from apps.responsible_gaming.models import GuardState, Limit

    Limit.objects.filter(player=player).delete()
    GuardState.objects.filter(player=player).update(limits={})
    services.review_approve(actor=reviewer, payment_id=payment.pk, reason="limit lifted")

    # then the deposit is credited once and completed
    payment.refresh_from_db()
    assert payment.status == Status.COMPLETED
    assert deposits_credited(player) == 1
    assert Wallet.objects.get(player=player).cash == AMOUNT


def test_a_deposit_approved_before_its_funds_arrive_is_held_if_the_credit_is_then_refused(
    brand, player, reviewer, second_reviewer
):
    # given a flagged deposit approved by a reviewer before the provider confirmed it
    lenient_policy(brand)
    payment = deposit_start(player, AMOUNT, review=True)
    services.review_claim(actor=reviewer, payment_id=payment.pk)
    services.review_approve(actor=reviewer, payment_id=payment.pk, reason="ok")
    payment.refresh_from_db()
    assert payment.status == Status.APPROVED
    # ...and then a deposit limit below it
    rg.limit_set(actor=player, player=player, kind="deposit", period="day", amount=AMOUNT - 1)

    # when the funds arrive
    services.deposit_confirm(payment_id=payment.pk, actor=PROVIDER)

    # then the money is held back in the queue, flagged credit_refused as well
    payment.refresh_from_db()
    assert payment.status == Status.FLAGGED
    assert payment.funds_received is True
    assert payment.flag_codes == ["new_payment_account", "credit_refused"]
    assert deposits_credited(player) == 0
    # and another reviewer can only reject it while the limit stands
    services.review_claim(actor=second_reviewer, payment_id=payment.pk)
    with pytest.raises(LimitReached):
        services.review_approve(actor=second_reviewer, payment_id=payment.pk, reason="ok")
    services.review_reject(actor=second_reviewer, payment_id=payment.pk, reason="refund")
    payment.refresh_from_db()
    assert payment.status == Status.REJECTED
    assert deposits_credited(player) == 0
