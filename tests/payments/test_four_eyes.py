"""Four eyes: a withdrawal above the brand's four_eyes_above needs two different people, the
second holding payments.approve_large_withdrawal; at or below it one approval suffices."""

import pytest

from apps.payments import services
from apps.payments.exceptions import FourEyes, PaymentNotFound, PaymentPermissionDenied
from apps.payments.models import PaymentApproval, Queue, ReviewAction, Status
from apps.tenants.roles import ROLES
from apps.wallet.models import Wallet
from tests.payments.conftest import STARTING_CASH
from tests.payments.states import (
    event_types,
    last_event_id,
    lenient_policy,
    roles,  # noqa: F401 - fixture: faster role groups
    snapshot,
    withdrawal_start,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

THRESHOLD = 2_000  # 20.00 GBP


@pytest.fixture
def four_eyes_policy(brand):
    return lenient_policy(brand, four_eyes_above={"GBP": "20.00"})


def test_the_roles_split_the_final_approval():
    assert "payments.approve_large_withdrawal" in ROLES["Compliance officer"]
    assert "payments.approve_large_withdrawal" not in ROLES["Payments reviewer"]
    assert "payments.approve_payment" in ROLES["Payments reviewer"]


@pytest.mark.parametrize(
    "amount, required", [(THRESHOLD - 1, 1), (THRESHOLD, 1), (THRESHOLD + 1, 2)], ids=["below", "at", "above"]
)
def test_approvals_required_by_amount(amount, required, four_eyes_policy, player, funded_wallet):
    payment = withdrawal_start(player, amount, review=False)

    assert payment.approvals_required == required
    if required == 1:
        assert (payment.status, payment.flag_codes) == (Status.AUTO_APPROVED, [])
    else:
        assert (payment.status, payment.flag_codes) == (Status.PENDING_REVIEW, ["four_eyes"])


@pytest.mark.parametrize("amount", [THRESHOLD - 1, THRESHOLD])
def test_at_or_below_the_threshold_one_payments_reviewer_approves(
    amount, four_eyes_policy, player, funded_wallet, reviewer
):
    # given a withdrawal held for another reason (a new payment account)
    wallet = funded_wallet
    payment = withdrawal_start(player, amount, review=True)
    assert payment.approvals_required == 1

    services.review_claim(actor=reviewer, payment_id=payment.pk)
    services.review_approve(actor=reviewer, payment_id=payment.pk, reason="ok")

    payment.refresh_from_db()
    assert payment.status == Status.APPROVED
    assert list(payment.approvals.values_list("staff_id", flat=True)) == [reviewer.pk]
    wallet.refresh_from_db()
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH - amount, amount)


def test_above_the_threshold_two_people_approve_the_second_a_senior_approver(
    four_eyes_policy, player, funded_wallet, reviewer, second_reviewer, compliance_officer
):
    # given a withdrawal above four eyes
    payment = withdrawal_start(player, THRESHOLD + 1, review=False)
    pk = payment.pk

    # when a payments reviewer gives the first approval
    services.review_claim(actor=reviewer, payment_id=pk)
    before_first = last_event_id()
    services.review_approve(actor=reviewer, payment_id=pk, reason="first look fine")

    # then it is recorded and the item goes back to the queue, unclaimed, still reserved
    payment.refresh_from_db()
    assert (payment.status, payment.claimed_by_id, payment.queue) == (
        Status.PENDING_REVIEW,
        None,
        Queue.STANDARD,
    )
    assert list(payment.approvals.values_list("staff_id", flat=True)) == [reviewer.pk]
    assert event_types(payment, after=before_first) == ["payments.approval_recorded"]
    assert ReviewAction.objects.filter(payment=payment).last().action == ReviewAction.Action.APPROVED
    assert Wallet.objects.get(pk=funded_wallet.pk).reserved == THRESHOLD + 1

    # when the same person claims it again and approves a second time
    services.review_claim(actor=reviewer, payment_id=pk)
    before = snapshot(payment)
    with pytest.raises(FourEyes):
        services.review_approve(actor=reviewer, payment_id=pk, reason="again")
    # then it is refused and nothing changed
    assert snapshot(payment) == before
    services.review_unclaim(actor=reviewer, payment_id=pk)

    # when another payments reviewer (without approve_large_withdrawal) gives the final approval
    services.review_claim(actor=second_reviewer, payment_id=pk)
    before = snapshot(payment)
    with pytest.raises(PaymentPermissionDenied) as refused:
        services.review_approve(actor=second_reviewer, payment_id=pk, reason="ok")
    # then it is refused: the final approval needs a senior approver; nothing changed
    assert refused.value.code == "permission_denied"
    assert "senior approver" in refused.value.message
    assert snapshot(payment) == before
    services.review_unclaim(actor=second_reviewer, payment_id=pk)

    # when a compliance officer gives it
    services.review_claim(actor=compliance_officer, payment_id=pk)
    before_final = last_event_id()
    services.review_approve(actor=compliance_officer, payment_id=pk, reason="second look fine")

    # then it is approved, with both approvals on record, awaiting payout
    payment.refresh_from_db()
    assert (payment.status, payment.claimed_by_id, payment.queue) == (Status.APPROVED, None, Queue.NONE)
    assert sorted(
        PaymentApproval.objects.filter(payment=payment).values_list("staff_id", flat=True)
    ) == sorted([reviewer.pk, compliance_officer.pk])
    assert event_types(payment, after=before_final) == ["payments.payment_approved"]
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH - THRESHOLD - 1, THRESHOLD + 1)


def test_a_senior_approver_cannot_give_both_approvals(
    four_eyes_policy, player, funded_wallet, compliance_officer
):
    payment = withdrawal_start(player, THRESHOLD + 1, review=False)
    services.review_claim(actor=compliance_officer, payment_id=payment.pk)
    services.review_approve(actor=compliance_officer, payment_id=payment.pk, reason="first")
    services.review_claim(actor=compliance_officer, payment_id=payment.pk)
    before = snapshot(payment)

    with pytest.raises(FourEyes):
        services.review_approve(actor=compliance_officer, payment_id=payment.pk, reason="second")

    assert snapshot(payment) == before


def test_a_first_approval_by_a_senior_approver_still_needs_a_senior_final(
    four_eyes_policy, player, funded_wallet, compliance_officer, reviewer, make_staff, brand
):
    # the final approval is the one that needs the permission, whoever gave the first
    payment = withdrawal_start(player, THRESHOLD + 1, review=False)
    services.review_claim(actor=compliance_officer, payment_id=payment.pk)
    services.review_approve(actor=compliance_officer, payment_id=payment.pk, reason="first")
    services.review_claim(actor=reviewer, payment_id=payment.pk)
    with pytest.raises(PaymentPermissionDenied):
        services.review_approve(actor=reviewer, payment_id=payment.pk, reason="final")
    services.review_unclaim(actor=reviewer, payment_id=payment.pk)

    other_officer = make_staff("Compliance officer", brands=[brand])
    services.review_claim(actor=other_officer, payment_id=payment.pk)
    services.review_approve(actor=other_officer, payment_id=payment.pk, reason="final")

    payment.refresh_from_db()
    assert payment.status == Status.APPROVED
    assert payment.approvals.count() == 2


def test_someone_of_another_brand_cannot_approve(four_eyes_policy, player, funded_wallet, reviewer, outsider):
    payment = withdrawal_start(player, THRESHOLD + 1, review=False)
    services.review_claim(actor=reviewer, payment_id=payment.pk)
    before = snapshot(payment)

    with pytest.raises(PaymentNotFound):
        services.review_approve(actor=outsider, payment_id=payment.pk, reason="mine now")

    assert snapshot(payment) == before
