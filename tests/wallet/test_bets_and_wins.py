"""Bets take cash first, then bonus; wins repay debt first, then become cash."""

import pytest

from apps.wallet import services
from apps.wallet.exceptions import InsufficientFunds, TransactionNotFound, TransactionRolledBack
from tests.wallet.actions import GAME, bet, deposit, pay, rollback, win
from tests.wallet.ledger import (
    assert_ledger_consistent,
    balances,
    entries,
    house_balance,
    snapshot,
    transaction_row,
    version,
    wallet_events,
)

pytestmark = pytest.mark.django_db


# --- bets ------------------------------------------------------------------------------


def test_bet_takes_cash_and_books_the_stake_to_the_games_account(funded_wallet):
    # when
    result = bet(funded_wallet, 2_500, "b-1", round_ref="round-9", game_ref="starburst", metadata={"x": 1})

    # then
    assert balances(funded_wallet) == {"cash": 7_500, "bonus": 0, "reserved": 0, "debt": 0}
    txn = transaction_row(GAME, "b-1")
    assert (txn.pk, txn.kind, txn.amount, txn.round_ref, txn.game_ref, txn.actor) == (
        result.transaction_id,
        "bet",
        2_500,
        "round-9",
        "starburst",
        "provider:hub88",
    )
    assert entries(txn.pk) == {"cash": -2_500, "house:games": 2_500}
    assert house_balance(funded_wallet.brand_id, "GBP", "games") == 2_500
    assert (result.cash, result.bonus, result.playable, result.replayed) == (7_500, 0, 7_500, False)
    event = wallet_events(funded_wallet)[-1]
    assert event.type == "wallet.bet_placed"
    assert event.actor == "provider:hub88"
    assert event.payload == {
        "transaction_id": txn.pk,
        "wallet_id": funded_wallet.pk,
        "player_id": funded_wallet.player_id,
        "brand_id": funded_wallet.brand_id,
        "currency": "GBP",
        "amount": 2_500,
        "cash": 7_500,
        "bonus": 0,
        "reserved": 0,
        "debt": 0,
        "round_ref": "round-9",
        "game_ref": "starburst",
        "payment_ref": "",
        "metadata": {"x": 1},
    }
    assert_ledger_consistent(funded_wallet)


def test_bet_takes_all_the_cash_first_then_bonus(make_wallet):
    wallet = make_wallet(cash=1_000, bonus=5_000)

    result = bet(wallet, 3_000, "b-1")

    assert balances(wallet) == {"cash": 0, "bonus": 3_000, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {"cash": -1_000, "bonus": -2_000, "house:games": 3_000}
    assert_ledger_consistent(wallet)


def test_bet_within_the_cash_leaves_the_bonus_alone(make_wallet):
    wallet = make_wallet(cash=1_000, bonus=5_000)

    result = bet(wallet, 1_000, "b-1")

    assert balances(wallet) == {"cash": 0, "bonus": 5_000, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {"cash": -1_000, "house:games": 1_000}


def test_bet_with_no_cash_is_paid_from_bonus(make_wallet):
    wallet = make_wallet(bonus=5_000)

    result = bet(wallet, 1_200, "b-1")

    assert balances(wallet) == {"cash": 0, "bonus": 3_800, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {"bonus": -1_200, "house:games": 1_200}


def test_bet_of_everything_playable_empties_the_wallet(make_wallet):
    wallet = make_wallet(cash=1_000, bonus=500)

    bet(wallet, 1_500, "b-1")

    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 0}
    assert_ledger_consistent(wallet)


@pytest.mark.parametrize(
    ("cash", "bonus", "stake"),
    [(0, 0, 1), (1_000, 0, 1_001), (0, 1_000, 1_001), (1_000, 500, 1_501)],
)
def test_bet_beyond_cash_and_bonus_is_refused_with_the_balances_and_writes_nothing(
    make_wallet, cash, bonus, stake
):
    # given
    wallet = make_wallet(cash=cash, bonus=bonus)
    before = snapshot()

    # when
    with pytest.raises(InsufficientFunds) as refused:
        bet(wallet, stake, "b-1")

    # then
    assert refused.value.code == "insufficient_funds"
    assert refused.value.balance == {"cash": cash, "bonus": bonus, "reserved": 0, "debt": 0}
    assert snapshot() == before
    assert transaction_row(GAME, "b-1") is None


def test_reserved_money_cannot_be_staked(funded_wallet):
    pay(services.withdrawal_reserve, funded_wallet, 9_000, "wd-1")
    before = snapshot()

    with pytest.raises(InsufficientFunds) as refused:
        bet(funded_wallet, 1_001, "b-1")

    assert refused.value.balance == {"cash": 1_000, "bonus": 0, "reserved": 9_000, "debt": 0}
    assert snapshot() == before


def test_a_refused_bet_leaves_no_trace_so_its_id_can_be_sent_again(wallet):
    with pytest.raises(InsufficientFunds):
        bet(wallet, 500, "b-1")
    deposit(wallet, 500, "dep-1")

    result = bet(wallet, 500, "b-1")

    assert result.replayed is False
    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 0}
    assert transaction_row(GAME, "b-1").pk == result.transaction_id


def test_zero_bet_is_recorded_and_moves_nothing(funded_wallet):
    before_version = version(funded_wallet)

    result = bet(funded_wallet, 0, "free-spin")

    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert version(funded_wallet) == before_version
    txn = transaction_row(GAME, "free-spin")
    assert (txn.pk, txn.kind, txn.amount) == (result.transaction_id, "bet", 0)
    assert entries(txn.pk) == {}
    event = wallet_events(funded_wallet)[-1]
    assert (event.type, event.payload["transaction_id"], event.payload["amount"]) == (
        "wallet.bet_placed",
        txn.pk,
        0,
    )


# --- wins ------------------------------------------------------------------------------


def test_win_credits_cash_against_the_games_account(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")

    result = win(funded_wallet, 4_500, "w-1", "b-1", round_ref="round-9")

    assert balances(funded_wallet) == {"cash": 13_500, "bonus": 0, "reserved": 0, "debt": 0}
    txn = transaction_row(GAME, "w-1")
    assert (txn.pk, txn.kind, txn.amount, txn.round_ref) == (result.transaction_id, "win", 4_500, "round-9")
    assert txn.metadata == {"bet": "b-1"}
    assert entries(txn.pk) == {"cash": 4_500, "house:games": -4_500}
    assert house_balance(funded_wallet.brand_id, "GBP", "games") == 1_000 - 4_500
    event = wallet_events(funded_wallet)[-1]
    assert event.type == "wallet.win_settled"
    assert (event.payload["transaction_id"], event.payload["cash"], event.payload["metadata"]) == (
        txn.pk,
        13_500,
        {"bet": "b-1"},
    )
    assert_ledger_consistent(funded_wallet)


def test_win_after_a_bonus_bet_is_cash(make_wallet):
    wallet = make_wallet(bonus=1_000)
    bet(wallet, 1_000, "b-1")

    win(wallet, 2_000, "w-1", "b-1")

    assert balances(wallet) == {"cash": 2_000, "bonus": 0, "reserved": 0, "debt": 0}


def test_win_repays_debt_before_it_becomes_cash(make_indebted_wallet):
    wallet = make_indebted_wallet(3_000)
    bet(wallet, 0, "free-spin")

    first = win(wallet, 1_000, "w-1", "free-spin")
    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 2_000}
    assert entries(first.transaction_id) == {"debt": 1_000, "house:games": -1_000}

    second = win(wallet, 5_000, "w-2", "free-spin")
    assert balances(wallet) == {"cash": 3_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(second.transaction_id) == {"debt": 2_000, "cash": 3_000, "house:games": -5_000}
    assert (second.cash, second.debt) == (3_000, 0)
    assert_ledger_consistent(wallet)


def test_several_wins_may_settle_one_bet(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")

    win(funded_wallet, 300, "w-1", "b-1")
    win(funded_wallet, 200, "w-2", "b-1")

    assert balances(funded_wallet) == {"cash": 9_500, "bonus": 0, "reserved": 0, "debt": 0}


def test_zero_win_is_recorded_and_moves_nothing(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")

    result = win(funded_wallet, 0, "w-1", "b-1")

    assert balances(funded_wallet) == {"cash": 9_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {}
    assert wallet_events(funded_wallet)[-1].type == "wallet.win_settled"


def test_win_on_an_unknown_bet_is_refused_and_writes_nothing(funded_wallet):
    before = snapshot()

    with pytest.raises(TransactionNotFound) as refused:
        win(funded_wallet, 1_000, "w-1", "no-such-bet")

    assert refused.value.code == "transaction_not_found"
    assert snapshot() == before


def test_win_on_another_wallets_bet_is_refused(make_wallet):
    mine, theirs = make_wallet(cash=1_000), make_wallet(cash=1_000)
    bet(theirs, 1_000, "b-1")
    before = snapshot()

    with pytest.raises(TransactionNotFound):
        win(mine, 1_000, "w-1", "b-1")

    assert snapshot() == before


def test_win_referring_to_something_that_is_not_a_bet_is_refused(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")
    win(funded_wallet, 1_000, "w-1", "b-1")
    before = snapshot()

    with pytest.raises(TransactionNotFound):
        win(funded_wallet, 1_000, "w-2", "w-1")

    assert snapshot() == before


def test_win_on_a_rolled_back_bet_is_refused_and_writes_nothing(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")
    rollback(funded_wallet, "rb-1", "b-1")
    before = snapshot()

    with pytest.raises(TransactionRolledBack) as refused:
        win(funded_wallet, 5_000, "w-1", "b-1")

    assert refused.value.code == "transaction_rolled_back"
    assert snapshot() == before
    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}


def test_win_on_a_bet_rolled_back_before_it_arrived_is_refused(funded_wallet):
    rollback(funded_wallet, "rb-1", "b-1")
    before = snapshot()

    with pytest.raises(TransactionRolledBack):
        win(funded_wallet, 5_000, "w-1", "b-1")

    assert snapshot() == before
