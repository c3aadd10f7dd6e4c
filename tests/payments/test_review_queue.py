"""The review queue: who may claim, decide, put back and escalate an item, and bulk approval
of low-risk items (each all or nothing)."""

import pytest
from auditlog.models import LogEntry

from apps.payments import services
from apps.payments.exceptions import PaymentNotFound, PaymentPermissionDenied, ReasonRequired, ReviewConflict
from apps.payments.models import Queue, ReviewAction, Status
from apps.payments.selectors import review_queue_for
from apps.responsible_gaming import services as rg
from apps.wallet.models import LedgerTransaction, Wallet
from tests.payments.conftest import PROVIDER, STARTING_CASH
from tests.payments.states import (
    D,
    W,
    deposit_start,
    event_types,
    last_event_id,
    lenient_policy,
    new_account,
    payment_in,
    roles,  # noqa: F401 - fixture: faster role groups
    snapshot,
    withdrawal_start,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _policy(brand):
    return lenient_policy(brand, four_eyes_above={"GBP": "20.00"})


@pytest.fixture
def queued(player, funded_wallet, reviewer):
    """A withdrawal of 10.00 GBP waiting for review (new payment account)."""
    return payment_in(W, Status.PENDING_REVIEW, player=player, reviewer=reviewer, amount=1_000)


# --- claiming ---------------------------------------------------------------------------------


def test_a_claim_is_recorded_published_and_audited(queued, reviewer):
    before = last_event_id()

    services.review_claim(actor=reviewer, payment_id=queued.pk)

    queued.refresh_from_db()
    assert (queued.status, queued.claimed_by_id) == (Status.IN_REVIEW, reviewer.pk)
    assert queued.claimed_at is not None
    assert event_types(queued, after=before) == ["payments.review_claimed"]
    claimed = ReviewAction.objects.filter(payment=queued, action="claimed").get()
    assert (claimed.staff_id, claimed.actor) == (reviewer.pk, f"staff:{reviewer.pk}")
    assert LogEntry.objects.get_for_object(queued).filter(actor=reviewer).count() == 1


def test_an_item_someone_holds_cannot_be_claimed_by_another(queued, reviewer, second_reviewer):
    services.review_claim(actor=reviewer, payment_id=queued.pk)
    before = snapshot(queued)

    with pytest.raises(ReviewConflict) as refused:
        services.review_claim(actor=second_reviewer, payment_id=queued.pk)

    assert refused.value.code == "claimed_by_other"
    assert snapshot(queued) == before


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_only_the_holder_decides(decision, queued, reviewer, second_reviewer):
    # given an item claimed by one reviewer
    services.review_claim(actor=reviewer, payment_id=queued.pk)
    before = snapshot(queued)

    # when another reviewer of the brand decides it
    with pytest.raises(ReviewConflict) as refused:
        if decision == "approve":
            services.review_approve(actor=second_reviewer, payment_id=queued.pk, reason="ok")
        else:
            services.review_reject(actor=second_reviewer, payment_id=queued.pk, reason="no")

    # then it is refused and nothing changed
    assert refused.value.code == "claimed_by_other"
    assert snapshot(queued) == before


def test_an_unclaimed_item_cannot_be_decided(queued, reviewer):
    before = snapshot(queued)

    with pytest.raises(ReviewConflict) as refused:
        services.review_approve(actor=reviewer, payment_id=queued.pk, reason="ok")

    assert refused.value.code == "not_claimed"
    assert snapshot(queued) == before


def test_a_rejection_needs_a_reason(queued, reviewer):
    services.review_claim(actor=reviewer, payment_id=queued.pk)
    before = snapshot(queued)

    with pytest.raises(ReasonRequired):
        services.review_reject(actor=reviewer, payment_id=queued.pk, reason="   ")

    assert snapshot(queued) == before


def test_only_the_holder_or_a_senior_reviewer_puts_an_item_back(
    queued, reviewer, second_reviewer, compliance_officer
):
    services.review_claim(actor=reviewer, payment_id=queued.pk)
    before = snapshot(queued)

    with pytest.raises(ReviewConflict):
        services.review_unclaim(actor=second_reviewer, payment_id=queued.pk)
    assert snapshot(queued) == before

    services.review_unclaim(actor=compliance_officer, payment_id=queued.pk, reason="reviewer is away")
    queued.refresh_from_db()
    assert (queued.status, queued.claimed_by_id) == (Status.PENDING_REVIEW, None)
    unclaimed = ReviewAction.objects.filter(payment=queued).last()
    assert (unclaimed.action, unclaimed.staff_id, unclaimed.reason) == (
        "unclaimed",
        compliance_officer.pk,
        "reviewer is away",
    )


# --- who may act at all -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, error, code",
    [
        ("Support agent", PaymentPermissionDenied, "permission_denied"),  # sees payments, may not review
        ("Auditor", PaymentPermissionDenied, "permission_denied"),
        ("Brand admin", PaymentNotFound, "payment_not_found"),  # cannot even see payments
        ("outsider", PaymentNotFound, "payment_not_found"),  # another operator's brand
    ],
)
def test_people_without_the_permission_on_the_brand_cannot_claim(
    who, error, code, queued, make_staff, brand, outsider
):
    person = outsider if who == "outsider" else make_staff(who, brands=[brand])
    before = snapshot(queued)

    with pytest.raises(error) as refused:
        services.review_claim(actor=person, payment_id=queued.pk)

    assert refused.value.code == code
    assert snapshot(queued) == before


def test_the_queue_lists_only_the_brands_one_can_see(queued, reviewer, outsider):
    assert list(review_queue_for(reviewer).values_list("pk", flat=True)) == [queued.pk]
    assert list(review_queue_for(outsider)) == []


# --- escalation -------------------------------------------------------------------------------


def test_escalating_a_claimed_item_unclaims_it_into_the_senior_queue(queued, reviewer, compliance_officer):
    services.review_claim(actor=reviewer, payment_id=queued.pk)
    before = last_event_id()

    services.review_escalate(actor=reviewer, payment_id=queued.pk, reason="beyond me")

    queued.refresh_from_db()
    assert (queued.status, queued.queue, queued.claimed_by_id) == (Status.PENDING_REVIEW, Queue.SENIOR, None)
    assert queued.escalated_at is not None
    assert event_types(queued, after=before) == ["payments.review_escalated"]
    escalated = ReviewAction.objects.filter(payment=queued).last()
    assert (escalated.action, escalated.staff_id, escalated.reason) == ("escalated", reviewer.pk, "beyond me")

    # a payments reviewer cannot take it from the senior queue; a compliance officer can
    before = snapshot(queued)
    with pytest.raises(PaymentPermissionDenied) as refused:
        services.review_claim(actor=reviewer, payment_id=queued.pk)
    assert refused.value.code == "senior_queue"
    assert snapshot(queued) == before
    services.review_claim(actor=compliance_officer, payment_id=queued.pk)
    queued.refresh_from_db()
    assert queued.claimed_by_id == compliance_officer.pk


def test_an_item_is_escalated_once(queued, reviewer, compliance_officer):
    services.review_escalate(actor=reviewer, payment_id=queued.pk, reason="beyond me")
    before = snapshot(queued)

    with pytest.raises(ReviewConflict) as refused:
        services.review_escalate(actor=compliance_officer, payment_id=queued.pk, reason="again")

    assert refused.value.code == "already_escalated"
    assert snapshot(queued) == before


def test_an_item_someone_else_holds_cannot_be_escalated(queued, reviewer, second_reviewer):
    services.review_claim(actor=reviewer, payment_id=queued.pk)
    before = snapshot(queued)

    with pytest.raises(ReviewConflict) as refused:
        services.review_escalate(actor=second_reviewer, payment_id=queued.pk, reason="mine")

    assert refused.value.code == "claimed_by_other"
    assert snapshot(queued) == before


def test_an_escalation_needs_a_reason(queued, reviewer):
    before = snapshot(queued)
    with pytest.raises(ReasonRequired):
        services.review_escalate(actor=reviewer, payment_id=queued.pk, reason="")
    assert snapshot(queued) == before


# --- bulk approval ------------------------------------------------------------------------------


def test_bulk_approval_approves_only_low_risk_items_and_skips_the_rest_with_reasons(
    brand, player, funded_wallet, reviewer, second_reviewer, other_brand
):
    # given low-risk items (only a new payment account), and items that are not
    low_withdrawal = withdrawal_start(player, 1_000, review=True)
    low_deposit = deposit_start(player, 1_500, review=True)
    four_eyes = withdrawal_start(player, 2_001, review=False)  # needs two approvals
    lenient_policy(brand, four_eyes_above={"GBP": "20.00"}, amount_thresholds={"GBP": "30.00"})
    large = withdrawal_start(player, 3_000, review=True)  # large_amount is not low risk
    lenient_policy(brand, four_eyes_above={"GBP": "20.00"})
    held_by_other = withdrawal_start(player, 1_100, review=True)
    services.review_claim(actor=second_reviewer, payment_id=held_by_other.pk)
    not_queued = withdrawal_start(player, 1_200, review=False)  # auto-approved
    assert not_queued.status == Status.AUTO_APPROVED
    skipped_ids = [four_eyes.pk, large.pk, held_by_other.pk, not_queued.pk]
    before = {pk: snapshot(_get(pk)) for pk in skipped_ids}
    missing = 10**9

    # when a reviewer approves them all in bulk
    result = services.review_bulk_approve(
        actor=reviewer,
        payment_ids=[low_withdrawal.pk, low_deposit.pk, *skipped_ids, missing],
    )

    # then only the low-risk ones are approved...
    assert result["approved"] == [low_withdrawal.pk, low_deposit.pk]
    assert _get(low_withdrawal.pk).status == Status.APPROVED
    assert _get(low_deposit.pk).status == Status.APPROVED  # no funds yet: waits for them
    # ...the others are skipped, each with its reason, and left exactly as they were
    assert result["skipped"] == {
        four_eyes.pk: "Not low risk: review it on its own.",
        large.pk: "Not low risk: review it on its own.",
        held_by_other.pk: f"{second_reviewer} is reviewing this item.",
        not_queued.pk: "This item is not waiting for review.",
        missing: "No such payment.",
    }
    for pk in skipped_ids:
        assert snapshot(_get(pk))["payment"] == before[pk]["payment"], pk
    # approved items name the bulk approver
    for pk in result["approved"]:
        actions = list(ReviewAction.objects.filter(payment_id=pk).values_list("action", "staff_id"))
        assert actions[-2:] == [("claimed", reviewer.pk), ("approved", reviewer.pk)]
    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    reserved = 1_000 + 2_001 + 3_000 + 1_100 + 1_200
    assert (wallet.cash, wallet.reserved) == (STARTING_CASH - reserved, reserved)


def test_bulk_approval_of_another_brands_item_skips_it_as_missing(queued, outsider):
    before = snapshot(queued)

    result = services.review_bulk_approve(actor=outsider, payment_ids=[queued.pk])

    assert result == {"approved": [], "skipped": {queued.pk: "No such payment."}}
    assert snapshot(queued) == before


def test_bulk_approval_needs_its_permission(queued, make_staff, brand):
    support = make_staff("Support agent", brands=[brand])
    before = snapshot(queued)

    result = services.review_bulk_approve(actor=support, payment_ids=[queued.pk])

    assert result == {"approved": [], "skipped": {queued.pk: "You do not have permission to do this."}}
    assert snapshot(queued) == before


def test_a_bulk_item_whose_approval_fails_is_left_as_it_was(brand, player, reviewer):
    # given a low-risk funded deposit whose credit the guard now refuses (a limit set since)
    deposit = deposit_start(player, 2_000, review=True)
    services.deposit_confirm(payment_id=deposit.pk, actor=PROVIDER)
    rg.limit_set(actor=player, player=player, kind="deposit", period="day", amount=1_000)
    before = snapshot(deposit)

    # when it is bulk approved
    result = services.review_bulk_approve(actor=reviewer, payment_ids=[deposit.pk])

    # then it is skipped with the guard's reason, and the claim made on the way rolled back
    assert result["approved"] == []
    assert list(result["skipped"]) == [deposit.pk]
    assert "limit" in result["skipped"][deposit.pk]
    assert snapshot(deposit) == before
    assert _get(deposit.pk).status == Status.FLAGGED
    assert LedgerTransaction.objects.filter(wallet__player=player, kind="deposit").count() == 0


def _get(pk):
    from apps.payments.models import Payment

    return Payment.objects.get(pk=pk)


def test_queue_kinds_cover_both(player, funded_wallet, reviewer):
    # both kinds wait in the same queue, most urgent first
    deposit = payment_in(D, Status.FLAGGED, player=player, reviewer=reviewer)
    withdrawal = payment_in(W, Status.PENDING_REVIEW, player=player, reviewer=reviewer)
    assert list(review_queue_for(reviewer).values_list("pk", flat=True)) == [deposit.pk, withdrawal.pk]


def test_bulk_approval_skips_a_senior_queue_item_it_may_not_take(queued, reviewer, compliance_officer):
    # given a low-risk item escalated to the senior queue
    services.review_escalate(actor=compliance_officer, payment_id=queued.pk, reason="look closer")
    before = snapshot(queued)

    # when a payments reviewer (no senior queue) approves it in bulk
    result = services.review_bulk_approve(actor=reviewer, payment_ids=[queued.pk])

    # then it is skipped with the reason, and left as it was
    assert result == {
        "approved": [],
        "skipped": {queued.pk: "Only the senior queue's reviewers can take this item."},
    }
    assert snapshot(queued) == before


def test_a_policy_with_no_low_risk_flags_approves_nothing_in_bulk(brand, withdrawal, compliance_officer):
    # given: the brand's policy names no low-risk flag; a withdrawal to a new account waits
    lenient_policy(brand, four_eyes_above={"GBP": "20.00"}, low_risk_flags=[])
    payment = withdrawal(amount=1_000, account=new_account())
    assert payment.flag_codes == ["new_payment_account"]

    # when
    outcome = services.review_bulk_approve(actor=compliance_officer, payment_ids=[payment.pk])

    # then
    assert outcome["approved"] == []
    assert list(outcome["skipped"]) == [payment.pk]
    payment.refresh_from_db()
    assert payment.status == Status.PENDING_REVIEW
