"""Staff balance adjustments: permission on the brand, a reason, four eyes above the threshold."""

import pytest

from apps.core.models import Event
from apps.wallet import services
from apps.wallet.exceptions import AdjustmentRefused, InsufficientFunds, InvalidAmount
from apps.wallet.models import AdjustmentRequest
from tests.factories import BrandFactory
from tests.wallet.ledger import (
    assert_ledger_consistent,
    balances,
    entries,
    house_balance,
    snapshot,
    transaction_row,
    wallet_events,
)

pytestmark = pytest.mark.django_db

ADJUST = "wallet.adjust_balance"
APPROVE = "wallet.approve_adjustment"
# 500.00 GBP: the threshold these tests are written against.
THRESHOLD = 50_000


@pytest.fixture(autouse=True)
def _four_eyes_above_500(settings):
    settings.WALLET_ADJUSTMENT_FOUR_EYES_ABOVE = 500


@pytest.fixture
def adjuster(make_wallet_staff, brand):
    return make_wallet_staff(ADJUST, brands=[brand])


@pytest.fixture
def approver(make_wallet_staff, brand):
    return make_wallet_staff(APPROVE, brands=[brand])


def request_adjustment(actor, wallet, amount, reason="Goodwill after outage #42"):
    return services.adjustment_request(actor=actor, wallet=wallet, amount=amount, reason=reason)


def test_the_threshold_is_the_setting_in_major_units_of_the_currency(settings):
    assert services.adjustment_threshold(2) == THRESHOLD
    assert services.adjustment_threshold(8) == 500 * 10**8
    assert services.adjustment_threshold(0) == 500
    settings.WALLET_ADJUSTMENT_FOUR_EYES_ABOVE = 20
    assert services.adjustment_threshold(2) == 2_000


# --- at or under the threshold: applied at once ------------------------------------------


def test_small_credit_is_applied_at_once_against_the_adjustments_account(adjuster, funded_wallet):
    # when
    adjustment = request_adjustment(adjuster, funded_wallet, 2_500, reason="  Goodwill  ")

    # then
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.amount, adjustment.reason) == ("applied", 2_500, "Goodwill")
    assert (adjustment.requested_by_id, adjustment.decided_by_id) == (adjuster.pk, adjuster.pk)
    assert adjustment.decided_at is not None
    assert balances(funded_wallet) == {"cash": 12_500, "bonus": 0, "reserved": 0, "debt": 0}
    txn = transaction_row("staff-adjustment", str(adjustment.pk))
    assert adjustment.transaction_id == txn.pk
    assert (txn.kind, txn.amount, txn.actor) == ("adjustment", 2_500, f"staff:{adjuster.pk}")
    assert txn.metadata == {"reason": "Goodwill", "requested_by": adjuster.pk}
    assert entries(txn.pk) == {"cash": 2_500, "house:adjustments": -2_500}
    assert house_balance(funded_wallet.brand_id, "GBP", "adjustments") == -2_500
    requested, adjusted = wallet_events(funded_wallet)[-2:]
    assert requested.type == "wallet.adjustment_requested"
    assert requested.payload == {
        "adjustment_id": adjustment.pk,
        "wallet_id": funded_wallet.pk,
        "player_id": funded_wallet.player_id,
        "brand_id": funded_wallet.brand_id,
        "amount": 2_500,
        "reason": "Goodwill",
    }
    assert adjusted.type == "wallet.balance_adjusted"
    assert adjusted.actor == f"staff:{adjuster.pk}"
    assert (adjusted.payload["transaction_id"], adjusted.payload["cash"], adjusted.payload["reason"]) == (
        txn.pk,
        12_500,
        "Goodwill",
    )
    assert_ledger_consistent(funded_wallet)


def test_small_debit_is_applied_at_once(adjuster, funded_wallet):
    adjustment = request_adjustment(adjuster, funded_wallet, -2_500)

    assert balances(funded_wallet) == {"cash": 7_500, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(adjustment.transaction_id) == {"cash": -2_500, "house:adjustments": 2_500}
    assert transaction_row("staff-adjustment", str(adjustment.pk)).amount == 2_500
    assert_ledger_consistent(funded_wallet)


def test_an_adjustment_of_exactly_the_threshold_is_applied_at_once(adjuster, wallet):
    adjustment = request_adjustment(adjuster, wallet, THRESHOLD)

    assert adjustment.status == "applied"
    assert balances(wallet)["cash"] == THRESHOLD


def test_credit_adjustment_repays_debt_first(adjuster, make_indebted_wallet):
    wallet = make_indebted_wallet(1_000)

    adjustment = request_adjustment(adjuster, wallet, 1_500)

    assert balances(wallet) == {"cash": 500, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(adjustment.transaction_id) == {"debt": 1_000, "cash": 500, "house:adjustments": -1_500}


def test_debit_beyond_the_cash_is_refused_and_leaves_no_request(adjuster, make_wallet):
    # given 10.00 cash and 50.00 bonus (staff debits take cash only)
    wallet = make_wallet(cash=1_000, bonus=5_000)
    before = snapshot()

    with pytest.raises(InsufficientFunds) as refused:
        request_adjustment(adjuster, wallet, -1_001)

    assert refused.value.balance == {"cash": 1_000, "bonus": 5_000, "reserved": 0, "debt": 0}
    assert snapshot() == before
    assert not AdjustmentRequest.objects.exists()


@pytest.mark.parametrize("amount", [0, True, False, 12.5, 1.0, "100", None])
def test_an_invalid_amount_is_refused(adjuster, funded_wallet, amount):
    before = snapshot()

    with pytest.raises(InvalidAmount) as refused:
        request_adjustment(adjuster, funded_wallet, amount)

    assert refused.value.code == "invalid_amount"
    assert snapshot() == before


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(adjuster, funded_wallet, reason):
    before = snapshot()

    with pytest.raises(AdjustmentRefused) as refused:
        request_adjustment(adjuster, funded_wallet, 100, reason=reason)

    assert refused.value.code == "reason_required"
    assert snapshot() == before


def test_the_threshold_follows_the_currency_exponent(make_wallet_staff, make_wallet, operator):
    # given a bitcoin brand: 500 BTC is 500 * 10**8 satoshis
    btc_brand = BrandFactory(operator=operator, code="brand-btc", currencies=["BTC"])
    staff = make_wallet_staff(ADJUST, brands=[btc_brand])
    wallet = make_wallet(brand=btc_brand)

    at_threshold = request_adjustment(staff, wallet, 500 * 10**8)
    above = request_adjustment(staff, wallet, 500 * 10**8 + 1)

    assert (at_threshold.status, above.status) == ("applied", "pending")
    assert balances(wallet)["cash"] == 500 * 10**8


# --- who may request -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        pytest.param("with-permission", True, id="brand-staff-with-adjust_balance"),
        pytest.param("without-permission", False, id="brand-staff-without-it"),
        pytest.param("approver-only", False, id="brand-staff-with-approve-only"),
        pytest.param("other-brand", False, id="other-brand-staff-with-adjust_balance"),
        pytest.param("inactive", False, id="inactive-staff-with-adjust_balance"),
    ],
)
def test_request_permission_matrix(make_wallet_staff, brand, other_brand, funded_wallet, who, allowed):
    # given
    actor = {
        "with-permission": lambda: make_wallet_staff(ADJUST, brands=[brand]),
        "without-permission": lambda: make_wallet_staff(brands=[brand]),
        "approver-only": lambda: make_wallet_staff(APPROVE, brands=[brand], lacking=[ADJUST]),
        "other-brand": lambda: make_wallet_staff(ADJUST, brands=[other_brand]),
        "inactive": lambda: make_wallet_staff(ADJUST, brands=[brand], is_active=False),
    }[who]()
    before = snapshot()

    # when / then
    if allowed:
        adjustment = request_adjustment(actor, funded_wallet, 100)
        assert adjustment.status == "applied"
        assert balances(funded_wallet)["cash"] == 10_100
    else:
        with pytest.raises(AdjustmentRefused) as refused:
            request_adjustment(actor, funded_wallet, 100)
        assert refused.value.code == "permission_denied"
        assert snapshot() == before


# --- above the threshold: four eyes ------------------------------------------------------------


def test_large_adjustment_waits_for_approval_and_moves_nothing(adjuster, funded_wallet):
    version_events = Event.objects.count()

    adjustment = request_adjustment(adjuster, funded_wallet, THRESHOLD + 1)

    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by_id, adjustment.transaction_id) == ("pending", None, None)
    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert transaction_row("staff-adjustment", str(adjustment.pk)) is None
    assert Event.objects.count() == version_events + 1
    assert wallet_events(funded_wallet)[-1].type == "wallet.adjustment_requested"


def test_another_person_approves_and_the_adjustment_is_applied(adjuster, approver, funded_wallet):
    adjustment = request_adjustment(adjuster, funded_wallet, THRESHOLD + 1)

    approved = services.adjustment_approve(actor=approver, adjustment=adjustment)

    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.requested_by_id, adjustment.decided_by_id) == (
        "applied",
        adjuster.pk,
        approver.pk,
    )
    assert approved.transaction_id == adjustment.transaction_id
    assert balances(funded_wallet) == {"cash": 10_000 + THRESHOLD + 1, "bonus": 0, "reserved": 0, "debt": 0}
    txn = transaction_row("staff-adjustment", str(adjustment.pk))
    assert (txn.pk, txn.actor) == (adjustment.transaction_id, f"staff:{approver.pk}")
    assert txn.metadata == {"reason": "Goodwill after outage #42", "requested_by": adjuster.pk}
    assert entries(txn.pk) == {"cash": THRESHOLD + 1, "house:adjustments": -(THRESHOLD + 1)}
    event = wallet_events(funded_wallet)[-1]
    assert (event.type, event.actor) == ("wallet.balance_adjusted", f"staff:{approver.pk}")
    assert_ledger_consistent(funded_wallet)


def test_the_requester_cannot_approve_their_own_adjustment(make_wallet_staff, brand, funded_wallet):
    # given someone who holds both permissions
    both = make_wallet_staff(ADJUST, APPROVE, brands=[brand])
    adjustment = request_adjustment(both, funded_wallet, THRESHOLD + 1)
    before = snapshot()

    with pytest.raises(AdjustmentRefused) as refused:
        services.adjustment_approve(actor=both, adjustment=adjustment)

    assert refused.value.code == "four_eyes"
    assert snapshot() == before
    adjustment.refresh_from_db()
    assert adjustment.status == "pending"


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        pytest.param("with-permission", True, id="brand-staff-with-approve_adjustment"),
        pytest.param("without-permission", False, id="brand-staff-without-it"),
        pytest.param("adjuster-only", False, id="brand-staff-with-adjust_balance-only"),
        pytest.param("other-brand", False, id="other-brand-staff-with-approve_adjustment"),
    ],
)
def test_approve_permission_matrix(
    make_wallet_staff, brand, other_brand, adjuster, funded_wallet, who, allowed
):
    actor = {
        "with-permission": lambda: make_wallet_staff(APPROVE, brands=[brand]),
        "without-permission": lambda: make_wallet_staff(brands=[brand]),
        "adjuster-only": lambda: make_wallet_staff(ADJUST, brands=[brand], lacking=[APPROVE]),
        "other-brand": lambda: make_wallet_staff(APPROVE, brands=[other_brand]),
    }[who]()
    adjustment = request_adjustment(adjuster, funded_wallet, THRESHOLD + 1)
    before = snapshot()

    if allowed:
        services.adjustment_approve(actor=actor, adjustment=adjustment)
        assert balances(funded_wallet)["cash"] == 10_000 + THRESHOLD + 1
    else:
        with pytest.raises(AdjustmentRefused) as refused:
            services.adjustment_approve(actor=actor, adjustment=adjustment)
        assert refused.value.code == "permission_denied"
        assert snapshot() == before


def test_an_adjustment_is_applied_once(adjuster, approver, make_wallet_staff, brand, funded_wallet):
    adjustment = request_adjustment(adjuster, funded_wallet, THRESHOLD + 1)
    services.adjustment_approve(actor=approver, adjustment=adjustment)
    before = snapshot()

    second_approver = make_wallet_staff(APPROVE, brands=[brand])
    with pytest.raises(AdjustmentRefused) as refused:
        services.adjustment_approve(actor=second_approver, adjustment=adjustment)

    assert refused.value.code == "not_pending"
    assert snapshot() == before


def test_an_approved_debit_that_the_cash_no_longer_covers_is_refused_and_stays_pending(
    adjuster, approver, make_wallet
):
    wallet = make_wallet(cash=THRESHOLD + 1)
    adjustment = request_adjustment(adjuster, wallet, -(THRESHOLD + 1))
    services.bet_place(wallet=wallet, amount=1, source="hub88", external_id="b-1", actor=approver)
    before = snapshot()

    with pytest.raises(InsufficientFunds):
        services.adjustment_approve(actor=approver, adjustment=adjustment)

    assert snapshot() == before
    adjustment.refresh_from_db()
    assert adjustment.status == "pending"


def test_reject_closes_the_request_without_moving_money(adjuster, approver, funded_wallet):
    adjustment = request_adjustment(adjuster, funded_wallet, -(THRESHOLD + 1))

    services.adjustment_reject(actor=approver, adjustment=adjustment, reason="  No evidence  ")

    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by_id, adjustment.transaction_id) == (
        "rejected",
        approver.pk,
        None,
    )
    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    event = wallet_events(funded_wallet)[-1]
    assert (event.type, event.actor) == ("wallet.adjustment_rejected", f"staff:{approver.pk}")
    assert event.payload == {
        "adjustment_id": adjustment.pk,
        "player_id": funded_wallet.player_id,
        "brand_id": funded_wallet.brand_id,
        "reason": "No evidence",
    }
    # ...and it cannot be approved afterwards
    before = snapshot()
    with pytest.raises(AdjustmentRefused) as refused:
        services.adjustment_approve(actor=approver, adjustment=adjustment)
    assert refused.value.code == "not_pending"
    assert snapshot() == before


@pytest.mark.parametrize("who", ["without-permission", "other-brand"])
def test_reject_needs_the_approve_permission_on_the_brand(
    make_wallet_staff, brand, other_brand, adjuster, funded_wallet, who
):
    actor = {
        "without-permission": lambda: make_wallet_staff(ADJUST, brands=[brand], lacking=[APPROVE]),
        "other-brand": lambda: make_wallet_staff(APPROVE, brands=[other_brand]),
    }[who]()
    adjustment = request_adjustment(adjuster, funded_wallet, THRESHOLD + 1)
    before = snapshot()

    with pytest.raises(AdjustmentRefused) as refused:
        services.adjustment_reject(actor=actor, adjustment=adjustment, reason="no")

    assert refused.value.code == "permission_denied"
    assert snapshot() == before


def test_an_applied_adjustment_cannot_be_rejected(adjuster, approver, funded_wallet):
    adjustment = request_adjustment(adjuster, funded_wallet, 100)
    before = snapshot()

    with pytest.raises(AdjustmentRefused) as refused:
        services.adjustment_reject(actor=approver, adjustment=adjustment, reason="too late")

    assert refused.value.code == "not_pending"
    assert snapshot() == before
