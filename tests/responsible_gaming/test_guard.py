"""The wallet guard: refusals inside the wallet's transaction, exact running totals, cost."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.guards import WalletOperation
from apps.core.models import Event
from apps.responsible_gaming import services
from apps.responsible_gaming.exceptions import LimitReached, PlayerBlocked
from apps.responsible_gaming.guard import rg_wallet_guard
from apps.responsible_gaming.models import Refusal, RunningTotal
from apps.responsible_gaming.reconciliation import totals_reconcile
from apps.responsible_gaming.refusals import refusals_flush
from apps.wallet.models import LedgerTransaction, Wallet
from tests.factories import PlayerFactory
from tests.responsible_gaming.conftest import bet, deposit, rollback, wallet_of, win

pytestmark = pytest.mark.django_db


def _cash(player) -> int:
    return Wallet.objects.get(pk=wallet_of(player).pk).cash


# --- deposit limits ----------------------------------------------------------------------


def test_de_monthly_deposit_cap_of_1000_eur_set_at_registration_refuses_the_deposit_over_it(de_player):
    assert services.default_limits_apply(player=de_player) == 1
    deposit(de_player, 60_000)
    deposit(de_player, 40_000)  # exactly 1,000.00 EUR this month

    with pytest.raises(LimitReached) as refused:
        deposit(de_player, 1)

    assert refused.value.code == "deposit_limit"
    assert refused.value.details["period"] == "month"
    assert _cash(de_player) == 100_000
    assert LedgerTransaction.objects.filter(wallet__player=de_player, kind="deposit").count() == 2


def test_the_de_cap_is_per_calendar_month_in_berlin(de_player):
    services.default_limits_apply(player=de_player)
    berlin = ZoneInfo("Europe/Berlin")
    with time_machine.travel(datetime(2026, 3, 31, 23, 30, tzinfo=berlin), tick=False):
        deposit(de_player, 100_000)
        with pytest.raises(LimitReached):
            deposit(de_player, 100)
    with time_machine.travel(datetime(2026, 4, 1, 0, 30, tzinfo=berlin), tick=False):
        deposit(de_player, 100_000)  # a new month in Berlin (still March 31st in UTC)

    assert _cash(de_player) == 200_000


def test_a_refused_deposit_is_recorded_after_its_rollback(de_player):
    services.default_limits_apply(player=de_player)
    deposit(de_player, 100_000)
    with pytest.raises(LimitReached):
        deposit(de_player, 500)

    assert refusals_flush() == 1

    refusal = Refusal.objects.get(player=de_player)
    assert (refusal.action, refusal.code, refusal.amount, refusal.currency) == (
        "deposit",
        "deposit_limit",
        500,
        "EUR",
    )
    event = Event.objects.get(type="responsible_gaming.breach_attempted")
    assert event.payload["code"] == "deposit_limit"
    assert event.payload["rule"] == "responsible_gaming.limit.deposit.month"


def test_a_limit_set_mid_period_counts_what_was_already_deposited(gb_player):
    deposit(gb_player, 3_000)
    services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=5_000)

    deposit(gb_player, 2_000)
    with pytest.raises(LimitReached):
        deposit(gb_player, 1)


def test_gb_rolling_day_counts_the_last_24_hours(gb_player):
    utc = ZoneInfo("UTC")
    with time_machine.travel(datetime(2026, 5, 1, 10, 0, tzinfo=utc), tick=False):
        services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=5_000)
        deposit(gb_player, 5_000)
    # A new calendar day, but within the rolling 24 hours:
    next_day = datetime(2026, 5, 2, 0, 30, tzinfo=utc)
    with time_machine.travel(next_day, tick=False), pytest.raises(LimitReached):
        deposit(gb_player, 1)
    with time_machine.travel(datetime(2026, 5, 2, 10, 0, tzinfo=utc), tick=False):
        deposit(gb_player, 5_000)


# --- loss and wager limits ---------------------------------------------------------------------


def test_loss_limit_counts_bets_less_wins(gb_player):
    deposit(gb_player, 50_000)
    services.limit_set(actor=gb_player, player=gb_player, kind="loss", period="day", amount=1_000)
    bet(gb_player, 400, key="b1")
    bet(gb_player, 400, key="b2")
    win(gb_player, 300, bet_key="b1")  # net loss 500

    bet(gb_player, 500)  # net loss 1,000: at the limit
    with pytest.raises(LimitReached) as refused:
        bet(gb_player, 1)

    assert refused.value.code == "loss_limit"


def test_a_rolled_back_bet_no_longer_counts(gb_player):
    deposit(gb_player, 50_000)
    services.limit_set(actor=gb_player, player=gb_player, kind="wager", period="week", amount=1_000)
    bet(gb_player, 1_000, key="b1")
    with pytest.raises(LimitReached) as refused:
        bet(gb_player, 100)
    assert refused.value.code == "wager_limit"

    rollback(gb_player, "b1")

    bet(gb_player, 1_000)


def test_limits_in_another_currency_refuse_rather_than_guess(gb_player):
    gb_player.brand.currencies.add("EUR")
    services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=5_000)
    from apps.wallet.services import deposit_credit, wallet_get_or_create

    with pytest.raises(LimitReached) as refused:
        deposit_credit(
            wallet=wallet_get_or_create(player=gb_player, currency_code="EUR"),
            amount=100,
            source="test",
            external_id="eur-1",
            actor=gb_player,
        )
    assert refused.value.code == "limit_currency"


# --- stake caps --------------------------------------------------------------------------------


def test_gb_slot_stake_cap_is_5_gbp(gb_player, slot):
    deposit(gb_player, 50_000)

    bet(gb_player, 500, game_ref=slot.code)
    with pytest.raises(LimitReached) as refused:
        bet(gb_player, 501, game_ref=slot.code)

    assert refused.value.code == "stake_cap"
    assert refused.value.details["rule"] == "pack gb.yaml: stake_caps.casino.max"


def test_gb_slot_stake_cap_is_2_gbp_for_18_to_24(gb_brand, slot):
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("UTC")), tick=False):
        young = PlayerFactory(brand=gb_brand, date_of_birth=date(2002, 6, 2))  # 23, 24 tomorrow
        deposit(young, 50_000)
        bet(young, 200, game_ref=slot.code)
        with pytest.raises(LimitReached) as refused:
            bet(young, 201, game_ref=slot.code)
        assert refused.value.details["rule"] == "pack gb.yaml: stake_caps.casino.age_bands.0.max"

    with time_machine.travel(datetime(2027, 6, 2, 12, tzinfo=ZoneInfo("UTC")), tick=False):
        bet(young, 500, game_ref=slot.code)  # 25 today


def test_the_cap_applies_only_to_the_capped_product(gb_player, db):
    from apps.games.models import Game

    Game.objects.create(provider="hub88", code="live_table", name="Live", product="live")
    deposit(gb_player, 50_000)

    bet(gb_player, 2_000, game_ref="live_table")


def test_de_slot_stake_cap_is_1_eur(de_player, slot):
    deposit(de_player, 50_000)

    bet(de_player, 100, game_ref=slot.code)
    with pytest.raises(LimitReached):
        bet(de_player, 101, game_ref=slot.code)


# --- exclusions ----------------------------------------------------------------------------------


def test_a_timed_out_player_cannot_deposit_or_bet_until_it_ends(gb_player):
    deposit(gb_player, 10_000)
    services.timeout_start(actor=gb_player, player=gb_player, hours=24)

    with pytest.raises(PlayerBlocked) as refused:
        deposit(gb_player, 100)
    assert refused.value.code == "timed_out"
    with pytest.raises(PlayerBlocked):
        bet(gb_player, 100)

    with time_machine.travel(datetime.now(tz=ZoneInfo("UTC")) + timedelta(hours=24, seconds=1)):
        bet(gb_player, 100)


def test_a_self_excluded_player_cannot_deposit_or_bet_but_wins_and_rollbacks_settle(gb_player):
    deposit(gb_player, 10_000)
    bet(gb_player, 100, key="open-bet")
    services.self_exclusion_start(actor=gb_player, player=gb_player, months=6)

    with pytest.raises(PlayerBlocked) as refused:
        bet(gb_player, 100)
    assert refused.value.code == "self_excluded"
    with pytest.raises(PlayerBlocked):
        deposit(gb_player, 100)
    win(gb_player, 300, bet_key="open-bet")
    rollback(gb_player, "open-bet")


def test_mt_play_resumes_only_after_the_cooling_off_past_the_end(operator):
    from tests.factories import BrandFactory

    player = PlayerFactory(
        brand=BrandFactory(operator=operator, code="rg-mt", jurisdiction="MT", currencies=["EUR"])
    )
    deposit(player, 1_000)
    exclusion = services.self_exclusion_start(actor=player, player=player, months=6)

    with time_machine.travel(exclusion.ends_at + timedelta(hours=23)), pytest.raises(PlayerBlocked):
        bet(player, 100)
    with time_machine.travel(exclusion.ends_at + timedelta(hours=24, seconds=1)):
        bet(player, 100)


def test_an_operator_wide_exclusion_covers_the_persons_other_brands(gb_player, de_brand):
    other = PlayerFactory(
        brand=de_brand, email=gb_player.email.upper(), date_of_birth=gb_player.date_of_birth
    )
    stranger = PlayerFactory(brand=de_brand)
    deposit(other, 100)

    services.self_exclusion_start(actor=gb_player, player=gb_player, months=None, all_brands=True)

    with pytest.raises(PlayerBlocked):
        deposit(other, 100)
    deposit(stranger, 100)


def test_a_closed_account_cannot_deposit(gb_player):
    services.account_close(actor=gb_player, player=gb_player, reason="done")

    with pytest.raises(PlayerBlocked) as refused:
        deposit(gb_player, 100)
    assert refused.value.code == "account_closed"


# --- cost on the bet path and reconciliation -----------------------------------------------------


def test_a_player_without_limits_costs_one_query(gb_player):
    operation = WalletOperation(
        kind="bet",
        wallet_id=1,
        player_id=gb_player.pk,
        brand_id=gb_player.brand_id,
        currency="GBP",
        amount=100,
        game_ref="not-a-slot",
        source="hub88",
    )
    rg_wallet_guard(operation)  # warms the rules cache, as the first bet of a process does

    with CaptureQueriesContext(connection) as queries:
        rg_wallet_guard(operation)

    assert len(queries) == 1


def test_kinds_that_cannot_break_a_rule_cost_nothing(gb_player):
    with CaptureQueriesContext(connection) as queries:
        rg_wallet_guard(
            WalletOperation(
                "withdrawal_reserve", 1, gb_player.pk, gb_player.brand_id, "GBP", 100, source="psp"
            )
        )
    assert len(queries) == 0


def test_running_totals_equal_the_ledger(gb_player):
    deposit(gb_player, 30_000)
    for kind, period in (("deposit", "day"), ("loss", "week"), ("wager", "month")):
        services.limit_set(actor=gb_player, player=gb_player, kind=kind, period=period, amount=40_000)
    bet(gb_player, 700, key="x1")
    bet(gb_player, 300, key="x2")
    win(gb_player, 900, bet_key="x1")
    rollback(gb_player, "x2")
    deposit(gb_player, 1_000)

    checked, mismatches = totals_reconcile()

    assert checked > 0 and mismatches == []
    loss = sum(RunningTotal.objects.filter(player=gb_player, kind="loss").values_list("total", flat=True))
    assert loss == 700 + 300 - 900 - 300


def test_reconciliation_reports_a_total_that_differs_from_the_ledger(gb_player):
    services.limit_set(actor=gb_player, player=gb_player, kind="deposit", period="day", amount=40_000)
    deposit(gb_player, 1_000)
    row = RunningTotal.objects.filter(player=gb_player, total=1_000).get()
    RunningTotal.objects.filter(pk=row.pk).update(total=999)

    _checked, mismatches = totals_reconcile()

    assert [(m.total_id, m.recorded, m.ledger) for m in mismatches] == [(row.pk, 999, 1_000)]
    assert (
        Event.objects.filter(type="responsible_gaming.totals_mismatch", player_id=gb_player.pk).count() == 1
    )
