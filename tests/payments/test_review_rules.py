"""Review rules (rules.py): each flag fires exactly when it should and not otherwise, and the
jurisdiction's refusals stop a payment before anything is written."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.compliance.exceptions import ComplianceRefused
from apps.core.models import Event
from apps.payments import services
from apps.payments.models import Payment, PaymentAccount, ReviewPolicy, Status
from apps.responsible_gaming import services as rg
from apps.wallet.models import Wallet
from apps.wallet.services import bet_place, deposit_credit, transaction_rollback
from tests.factories import BrandFactory, PlayerFactory
from tests.payments.conftest import PROVIDER

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GAME = PROVIDER


def policy(brand, **values) -> ReviewPolicy:
    """Every review rule off except those named (defaults of the model otherwise)."""
    base = {
        "review_first_withdrawal": False,
        "review_kyc_not_verified": False,
        "review_method_mismatch": False,
        "min_play_ratio": 0,
        "new_account_days": 0,
        "velocity_count": 1_000,
    }
    row, _ = ReviewPolicy.objects.update_or_create(brand=brand, defaults={**base, **values})
    return row


def deposit(player, amount=5_000, *, currency="GBP", method="card", card_type="debit", account=None):
    return services.deposit_initiate(
        player=player,
        amount=amount,
        currency=currency,
        method=method,
        card_type=card_type,
        provider="paymentiq",
        actor=PROVIDER,
        account=account,
    )


def withdraw(player, amount=1_000, *, method="card", account=None):
    return services.withdrawal_request(
        player=player,
        amount=amount,
        currency="GBP",
        method=method,
        provider="paymentiq",
        actor=PROVIDER,
        account=account,
    )


def completed_deposit(player, amount=10_000, *, method="card", account=None):
    payment = deposit(
        player, amount, method=method, card_type="debit" if method == "card" else "", account=account
    )
    services.deposit_confirm(payment_id=payment.pk, actor=PROVIDER)
    payment.refresh_from_db()
    assert payment.status == Status.COMPLETED
    return payment


def nothing_written() -> dict:
    return {
        "payments": Payment.objects.count(),
        "accounts": PaymentAccount.objects.count(),
        "wallets": Wallet.objects.count(),
        "events": Event.objects.count(),
    }


# --- aml_threshold (the GB pack's aml.review_at GBP 1700.00, through compliance.check) --------


@pytest.mark.parametrize(
    "amount, flags", [(169_999, []), (170_000, ["aml_threshold"]), (170_001, ["aml_threshold"])]
)
def test_aml_threshold_of_the_gb_pack(amount, flags, brand, player):
    policy(brand)
    payment = deposit(player, amount)

    assert payment.flag_codes == flags
    assert payment.status == (Status.FLAGGED if flags else Status.PENDING)
    if flags:
        assert "aml.review_at.GBP" in payment.risk_flags[0]["detail"]


def test_aml_threshold_applies_to_withdrawals(brand, player, funded_wallet):
    policy(brand)
    deposit_credit(wallet=funded_wallet, amount=300_000, source="test", external_id="more", actor=PROVIDER)

    assert withdraw(player, 169_999).flag_codes == []
    assert withdraw(player, 170_000).flag_codes == ["aml_threshold"]


# --- large_amount ---------------------------------------------------------------------------------


@pytest.mark.parametrize("amount, flags", [(49_999, []), (50_000, ["large_amount"])])
def test_large_amount_at_or_above_the_brands_threshold(amount, flags, brand, player):
    policy(brand, amount_thresholds={"GBP": "500.00"})

    assert deposit(player, amount).flag_codes == flags


def test_large_amount_ignores_other_currencies_thresholds(brand, player):
    policy(brand, amount_thresholds={"EUR": "1.00"})

    assert deposit(player, 50_000).flag_codes == []


# --- kyc_not_verified (a pack that lets unverified players deposit: MT) --------------------------


@pytest.fixture
def mt_brand(operator):
    return BrandFactory(operator=operator, code="pay-mt", jurisdiction="MT", currencies=["EUR"])


@pytest.mark.parametrize(
    "kyc, rule_on, flags",
    [
        ("not_started", True, ["kyc_not_verified"]),
        ("verified", True, []),
        ("not_started", False, []),
    ],
)
def test_kyc_not_verified(kyc, rule_on, flags, mt_brand):
    policy(mt_brand, review_kyc_not_verified=rule_on)
    player = PlayerFactory(brand=mt_brand, kyc_status=kyc)

    assert deposit(player, 1_000, currency="EUR").flag_codes == flags


def test_a_gb_player_without_kyc_is_refused_a_deposit_outright(brand):
    policy(brand, review_kyc_not_verified=True)
    player = PlayerFactory(brand=brand, kyc_status="not_started")
    before = nothing_written()

    with pytest.raises(ComplianceRefused) as refused:
        deposit(player)

    assert refused.value.code == "kyc_required"
    assert nothing_written() == before


# --- new_payment_account ------------------------------------------------------------------------


def test_new_payment_account(brand, player):
    policy(brand, new_account_days=7)
    account = services.AccountInfo(ref="card-1", masked="**** 1111")

    assert deposit(player, account=account).flag_codes == ["new_payment_account"]
    assert deposit(player).flag_codes == []  # no account named: nothing to judge

    # seven days and a minute later the same account is not new any more
    PaymentAccount.objects.filter(account_ref="card-1").update(
        first_seen_at=PaymentAccount.objects.get(account_ref="card-1").first_seen_at
        - timedelta(days=7, minutes=1)
    )
    assert deposit(player, account=account).flag_codes == []
    assert PaymentAccount.objects.filter(player=player).count() == 1


# --- velocity ------------------------------------------------------------------------------------


def test_velocity_more_than_the_count_within_the_window(brand, player, funded_wallet):
    policy(brand, velocity_count=2, velocity_minutes=60)
    with time_machine.travel(T0, tick=False):
        assert [deposit(player).flag_codes for _ in range(2)] == [[], []]
        assert deposit(player).flag_codes == ["velocity"]
        # withdrawals are counted on their own
        assert withdraw(player).flag_codes == []
    # an hour and a minute later the earlier deposits are out of the window
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert deposit(player).flag_codes == []
        assert deposit(player).flag_codes == []
        assert deposit(player).flag_codes == ["velocity"]


# --- first_withdrawal -----------------------------------------------------------------------------


def test_first_withdrawal_until_one_is_paid(brand, player, funded_wallet):
    policy(brand, review_first_withdrawal=True)
    first = withdraw(player)
    assert first.flag_codes == ["first_withdrawal"]

    # a cancelled one does not count as a withdrawal made
    services.payment_cancel(payment_id=first.pk, actor=PROVIDER)
    second = withdraw(player)
    assert second.flag_codes == ["first_withdrawal"]

    services.withdrawal_paid(payment_id=second.pk, actor=PROVIDER)
    assert withdraw(player).flag_codes == []


def test_first_withdrawal_rule_switched_off(brand, player, funded_wallet):
    policy(brand, review_first_withdrawal=False)

    assert withdraw(player).flag_codes == []


# --- method_mismatch --------------------------------------------------------------------------------


def test_method_mismatch(brand, player, funded_wallet):
    policy(brand, review_method_mismatch=True)
    assert withdraw(player).flag_codes == ["method_mismatch"]  # no completed deposit at all

    card = services.AccountInfo(ref="card-1")
    completed_deposit(player, method="card", account=card)
    # a pending (not completed) bank transfer does not count
    deposit(player, method="bank_transfer", card_type="")

    assert withdraw(player, method="card").flag_codes == []
    assert withdraw(player, method="card", account=card).flag_codes == []
    assert withdraw(player, method="bank_transfer").flag_codes == ["method_mismatch"]
    mismatch = withdraw(player, method="card", account=services.AccountInfo(ref="card-2"))
    assert mismatch.flag_codes == ["method_mismatch"]
    assert mismatch.risk_flags[0]["detail"] == "Paid out to an account never deposited from."


# --- deposit_without_play ------------------------------------------------------------------------------


def _bet(player, amount, key):
    wallet = Wallet.objects.get(player=player, currency_id="GBP")
    return bet_place(
        wallet=wallet, amount=amount, source="hub88", external_id=key, actor=GAME, round_ref="r1"
    )


@pytest.mark.parametrize(
    "staked, flags",
    [(0, ["deposit_without_play"]), (9_999, ["deposit_without_play"]), (10_000, []), (25_000, [])],
)
def test_deposit_without_play(staked, flags, brand, player, funded_wallet):
    policy(brand, no_play_window_hours=24, min_play_ratio=1)
    with time_machine.travel(T0, tick=True):
        completed_deposit(player, 10_000)
        if staked:
            _bet(player, staked, "bet-1")

        assert withdraw(player).flag_codes == flags


def test_deposit_without_play_counts_rolled_back_bets_as_not_played(brand, player, funded_wallet):
    policy(brand, no_play_window_hours=24, min_play_ratio=1)
    completed_deposit(player, 10_000)
    _bet(player, 10_000, "bet-1")
    wallet = Wallet.objects.get(player=player, currency_id="GBP")
    transaction_rollback(
        wallet=wallet, source="hub88", external_id="rb-1", target_external_id="bet-1", actor=GAME
    )

    assert withdraw(player).flag_codes == ["deposit_without_play"]


def test_deposit_without_play_only_within_the_window(brand, player, funded_wallet):
    policy(brand, no_play_window_hours=24, min_play_ratio=1)
    with time_machine.travel(T0, tick=False):
        completed_deposit(player, 10_000)
    with time_machine.travel(T0 + timedelta(hours=23, minutes=59), tick=False):
        assert withdraw(player).flag_codes == ["deposit_without_play"]
    with time_machine.travel(T0 + timedelta(hours=24, minutes=1), tick=False):
        assert withdraw(player).flag_codes == []


# --- compliance refusals: nothing written -----------------------------------------------------------


def test_a_gb_credit_card_deposit_is_refused_and_nothing_written(brand, player):
    policy(brand)
    before = nothing_written()

    with pytest.raises(ComplianceRefused) as refused:
        deposit(player, card_type="credit", account=services.AccountInfo(ref="cc-1"))

    assert refused.value.code == "payment_method_banned"
    assert nothing_written() == before
    # a debit card is fine
    assert deposit(player, card_type="debit").status == Status.PENDING


def test_a_self_excluded_player_is_refused_a_deposit(brand, player):
    policy(brand)
    rg.self_exclusion_start(actor=player, player=player, months=6)
    before = nothing_written()

    with pytest.raises(ComplianceRefused) as refused:
        deposit(player)

    assert refused.value.code == "self_excluded"
    assert nothing_written() == before


def test_a_deposit_over_the_players_deposit_limit_is_refused(brand, player):
    policy(brand)
    rg.limit_set(actor=player, player=player, kind="deposit", period="day", amount=5_000)
    before = nothing_written()

    with pytest.raises(ComplianceRefused) as refused:
        deposit(player, 5_001)

    assert refused.value.code == "deposit_limit"
    assert nothing_written() == before
    assert deposit(player, 5_000).status == Status.PENDING
