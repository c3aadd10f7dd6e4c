"""Every service against every status of each kind: the documented move, or a refusal that
changes nothing.

The matrix below is the contract of models.py's state machine as the services expose it.
A legal call makes exactly its move, publishes exactly its event, moves exactly the money
the new status implies (the wallet still equal to its ledger), and a staff action leaves a
ReviewAction and an audit row naming the person. An illegal call raises TransitionRefused,
ReviewConflict or PaymentNotFound with a clear message and leaves the payment, the wallet
and every row count as they were. A repeat of a call already made (idempotent) changes
nothing either.
"""

import pytest
from auditlog.models import LogEntry
from django.db import transaction

from apps.payments import services
from apps.payments.exceptions import (
    PaymentNotFound,
    PaymentPermissionDenied,
    ReviewConflict,
    TransitionRefused,
)
from apps.payments.models import WITHDRAWAL_RESERVED, Queue, ReviewAction
from apps.wallet.models import Wallet
from tests.payments.conftest import PROVIDER, STARTING_CASH
from tests.payments.states import (
    RESTING,
    D,
    S,
    W,
    event_types,
    last_event_id,
    lenient_policy,
    payment_in,
    roles,  # noqa: F401 - fixture: faster role groups
    snapshot,
)
from tests.wallet.ledger import assert_ledger_consistent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

AMOUNT = 5_000
SAME = "same"  # idempotent repeat: answered as it is, nothing changes
NOTED = "noted"  # a deposit under review marked as funded; it keeps waiting

CALLS = {
    "deposit_confirm": lambda pk, ctx: services.deposit_confirm(payment_id=pk, actor=PROVIDER),
    "withdrawal_process": lambda pk, ctx: services.withdrawal_process(payment_id=pk, actor=PROVIDER),
    "withdrawal_paid": lambda pk, ctx: services.withdrawal_paid(payment_id=pk, actor=PROVIDER),
    "payment_fail": lambda pk, ctx: services.payment_fail(payment_id=pk, actor=PROVIDER, reason="declined"),
    "payment_cancel": lambda pk, ctx: services.payment_cancel(payment_id=pk, actor=PROVIDER, reason="gone"),
    "withdrawal_cancel_by_player": lambda pk, ctx: services.withdrawal_cancel_by_player(
        payment_id=pk, player=ctx["player"]
    ),
    "review_claim": lambda pk, ctx: services.review_claim(actor=ctx["reviewer"], payment_id=pk),
    "review_unclaim": lambda pk, ctx: services.review_unclaim(actor=ctx["reviewer"], payment_id=pk),
    "review_approve": lambda pk, ctx: services.review_approve(
        actor=ctx["reviewer"], payment_id=pk, reason="ok"
    ),
    "review_reject": lambda pk, ctx: services.review_reject(
        actor=ctx["reviewer"], payment_id=pk, reason="no"
    ),
    "review_escalate": lambda pk, ctx: services.review_escalate(
        actor=ctx["reviewer"], payment_id=pk, reason="too big for me"
    ),
}
STAFF_CALLS = {
    "review_claim": ReviewAction.Action.CLAIMED,
    "review_unclaim": ReviewAction.Action.UNCLAIMED,
    "review_approve": ReviewAction.Action.APPROVED,
    "review_reject": ReviewAction.Action.REJECTED,
    "review_escalate": ReviewAction.Action.ESCALATED,
}
EVENT = {
    "deposit_confirm": "payments.deposit_completed",
    "withdrawal_process": "payments.withdrawal_processing",
    "withdrawal_paid": "payments.withdrawal_paid",
    "payment_fail": "payments.payment_failed",
    "payment_cancel": "payments.payment_cancelled",
    "withdrawal_cancel_by_player": "payments.payment_cancelled",
    "review_claim": "payments.review_claimed",
    "review_unclaim": "payments.review_unclaimed",
    "review_approve": "payments.payment_approved",
    "review_reject": "payments.payment_rejected",
    "review_escalate": "payments.review_escalated",
}
ENDINGS = {"payment_fail": S.FAILED, "payment_cancel": S.CANCELLED}
CANCEL_ALL = {**ENDINGS, "withdrawal_cancel_by_player": S.CANCELLED}

# (kind, status) -> {service: new status | SAME | NOTED}; every service not named is refused.
LEGAL = {
    (D, S.PENDING): {"deposit_confirm": S.COMPLETED, **ENDINGS},
    (D, S.FLAGGED): {
        "deposit_confirm": NOTED,
        **ENDINGS,
        "review_claim": S.IN_REVIEW,
        "review_escalate": S.FLAGGED,
    },
    (D, S.IN_REVIEW): {
        "deposit_confirm": NOTED,
        **ENDINGS,
        "review_claim": SAME,
        "review_unclaim": S.FLAGGED,
        "review_approve": S.APPROVED,
        "review_reject": S.REJECTED,
        "review_escalate": S.FLAGGED,
    },
    (D, S.APPROVED): {"deposit_confirm": S.COMPLETED, **ENDINGS},
    (D, S.COMPLETED): {"deposit_confirm": SAME},
    (D, S.REJECTED): {},
    (D, S.FAILED): {"payment_fail": SAME},
    (D, S.CANCELLED): {"payment_cancel": SAME},
    (W, S.AUTO_APPROVED): {"withdrawal_process": S.PROCESSING, "withdrawal_paid": S.PAID, **CANCEL_ALL},
    (W, S.PENDING_REVIEW): {
        "withdrawal_paid": S.PAID,
        **CANCEL_ALL,
        "review_claim": S.IN_REVIEW,
        "review_escalate": S.PENDING_REVIEW,
    },
    (W, S.IN_REVIEW): {
        "withdrawal_paid": S.PAID,
        **CANCEL_ALL,
        "review_claim": SAME,
        "review_unclaim": S.PENDING_REVIEW,
        "review_approve": S.APPROVED,
        "review_reject": S.REJECTED,
        "review_escalate": S.PENDING_REVIEW,
    },
    (W, S.APPROVED): {"withdrawal_process": S.PROCESSING, "withdrawal_paid": S.PAID, **CANCEL_ALL},
    (W, S.PROCESSING): {"withdrawal_process": SAME, "withdrawal_paid": S.PAID, "payment_fail": S.FAILED},
    (W, S.PAID): {"withdrawal_paid": SAME},
    (W, S.REJECTED): {},
    (W, S.FAILED): {"payment_fail": SAME},
    (W, S.CANCELLED): {"payment_cancel": SAME, "withdrawal_cancel_by_player": SAME},
}
assert set(LEGAL) == {(kind, status) for kind, statuses in RESTING.items() for status in statuses}

CASES = [
    pytest.param(kind, status, id=f"{kind}-{status}")
    for kind, statuses in RESTING.items()
    for status in statuses
]


def refusal_for(kind: str, call: str) -> type[Exception]:
    if call.startswith("review_"):
        return ReviewConflict
    if call == "withdrawal_cancel_by_player" and kind == D:
        return PaymentNotFound  # a player's withdrawal cancel does not see deposits
    return TransitionRefused


def expected_money(kind: str, status: str) -> dict:
    """The wallet's cash and reserved once the payment rests in `status` (nothing else moved)."""
    if kind == D:
        return {"cash": STARTING_CASH + (AMOUNT if status == S.COMPLETED else 0), "reserved": 0, "debt": 0}
    reserved = AMOUNT if status in WITHDRAWAL_RESERVED else 0
    spent = AMOUNT if status == S.PAID else 0
    return {"cash": STARTING_CASH - reserved - spent, "reserved": reserved, "debt": 0}


@pytest.mark.parametrize("kind, status", CASES)
def test_every_service_in_every_status(kind, status, brand, player, funded_wallet, reviewer):
    """One payment per status; each of the eleven services is tried on it inside a savepoint
    that is rolled back after, so every call starts from the same state."""
    # given a payment resting in `status`, claimed by the reviewer when in review
    lenient_policy(brand)
    payment = payment_in(kind, status, player=player, reviewer=reviewer, amount=AMOUNT)
    failures = []
    for call in CALLS:
        savepoint = transaction.savepoint()
        try:
            check_call(
                kind, status, call, LEGAL[kind, status].get(call), payment, player, reviewer, funded_wallet
            )
        except (AssertionError, pytest.fail.Exception) as failed:
            failures.append(f"{call}: {failed}")
        except Exception as error:
            error.add_note(f"while calling {call} on a {kind} that is {status}")
            raise
        finally:
            transaction.savepoint_rollback(savepoint)
    assert failures == []


def check_call(kind, status, call, outcome, payment, player, reviewer, funded_wallet):
    payment.refresh_from_db()
    before = snapshot(payment)
    events_before = last_event_id()
    audit_before = LogEntry.objects.get_for_object(payment).filter(actor=reviewer).count()
    ctx = {"player": player, "reviewer": reviewer}

    if outcome is None:
        # when an illegal call is made, then it is refused clearly...
        with pytest.raises(refusal_for(kind, call)) as refused:
            CALLS[call](payment.pk, ctx)
        message = refused.value.message
        if isinstance(refused.value, TransitionRefused):
            assert payment.get_status_display().lower() in message or message == "This is not a deposit."
        elif isinstance(refused.value, ReviewConflict):
            assert refused.value.code in ("not_in_queue", "not_claimed"), refused.value.code
            assert message and message != ReviewConflict.default_message
        # ...and nothing changed
        assert snapshot(payment) == before
        return

    # when a legal call is made
    result = CALLS[call](payment.pk, ctx)
    payment.refresh_from_db()
    assert result.pk == payment.pk
    after = snapshot(payment)

    if outcome == SAME:
        # then a repeat is answered as it is and changes nothing
        assert result.status == status
        assert after == before
        return

    wallet = Wallet.objects.get(pk=funded_wallet.pk)
    assert_ledger_consistent(wallet)
    if outcome == NOTED:
        # then the deposit keeps waiting for its reviewer, marked as funded; no money moves
        assert payment.status == status
        assert payment.funds_received is True
        assert after["wallet"] == before["wallet"]
        assert event_types(payment, after=events_before) == []
        note = ReviewAction.objects.filter(payment=payment).last()
        assert (note.action, note.actor) == (ReviewAction.Action.NOTE, "system:test-provider")
        return

    # then the payment makes exactly the documented move...
    assert payment.status == outcome
    # ...publishes its event (a payout before approval also records an incident)...
    early_payout = call == "withdrawal_paid" and status in (S.PENDING_REVIEW, S.IN_REVIEW)
    expected_events = ["payments.incident_recorded", EVENT[call]] if early_payout else [EVENT[call]]
    assert event_types(payment, after=events_before) == expected_events
    # ...moves exactly the money the new status implies...
    assert {key: getattr(wallet, key) for key in ("cash", "reserved", "debt")} == expected_money(
        kind, outcome
    )
    moved = outcome == S.COMPLETED if kind == D else outcome in (S.PAID, S.REJECTED, S.FAILED, S.CANCELLED)
    assert after["ledger"] - before["ledger"] == (1 if moved else 0)
    # ...and a staff action is on the review history and the audit trail under the person's name
    if call in STAFF_CALLS:
        action = ReviewAction.objects.filter(payment=payment).last()
        assert (action.action, action.staff_id, action.actor) == (
            STAFF_CALLS[call],
            reviewer.pk,
            f"staff:{reviewer.pk}",
        )
        assert LogEntry.objects.get_for_object(payment).filter(actor=reviewer).count() == audit_before + 1
    else:
        assert after["review_actions"] == before["review_actions"]
    if call == "review_escalate":
        assert (payment.queue, payment.claimed_by_id) == (Queue.SENIOR, None)
    if outcome in (S.COMPLETED, S.PAID, S.REJECTED, S.FAILED, S.CANCELLED):
        assert (payment.queue, payment.claimed_by_id, payment.sla_due_at) == (Queue.NONE, None, None)


# --- a person recording a provider's step (manual payouts) --------------------------------------

STAFF_PROVIDER_CALLS = {
    "withdrawal_process": (S.AUTO_APPROVED, S.PROCESSING),
    "withdrawal_paid": (S.PROCESSING, S.PAID),
    "payment_fail": (S.PROCESSING, S.FAILED),
}


@pytest.mark.parametrize("call", STAFF_PROVIDER_CALLS)
@pytest.mark.parametrize("already", [False, True], ids=["first time", "repeat"])
def test_staff_recording_a_payout_step_need_process_payouts_on_the_brand(
    call, already, brand, player, funded_wallet, reviewer, make_staff, outsider
):
    # given a withdrawal before the step (or already past it: the repeat is idempotent)
    lenient_policy(brand)
    start, end = STAFF_PROVIDER_CALLS[call]
    payment = payment_in(W, end if already else start, player=player, reviewer=reviewer, amount=AMOUNT)
    staff_call = {
        "withdrawal_process": lambda who: services.withdrawal_process(payment_id=payment.pk, actor=who),
        "withdrawal_paid": lambda who: services.withdrawal_paid(payment_id=payment.pk, actor=who),
        "payment_fail": lambda who: services.payment_fail(payment_id=payment.pk, actor=who, reason="bounced"),
    }[call]
    support = make_staff("Support agent", brands=[brand])
    before = snapshot(payment)

    # then someone of another brand is told it does not exist, and a support agent (who sees
    # payments but records no payouts) is refused; neither changes anything
    with pytest.raises(PaymentNotFound):
        staff_call(outsider)
    with pytest.raises(PaymentPermissionDenied) as refused:
        staff_call(support)
    assert refused.value.code == "permission_denied"
    assert snapshot(payment) == before

    # and a payments reviewer (process_payouts) records it
    assert staff_call(reviewer).status == end
