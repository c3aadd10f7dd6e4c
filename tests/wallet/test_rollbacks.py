"""Rollbacks undo a bet or a win exactly once, whatever arrives in whatever order."""

import pytest

from apps.wallet import services
from apps.wallet.exceptions import DuplicateTransaction, RollbackRefused, TransactionRolledBack
from apps.wallet.models import LedgerTransaction
from tests.wallet.actions import GAME, PAYMENTS, PROVIDER, bet, deposit, rollback, win
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


def test_bet_rollback_gives_back_exactly_the_cash_and_bonus_it_took(make_wallet):
    # given a bet that took 10.00 cash and 20.00 bonus
    wallet = make_wallet(cash=1_000, bonus=5_000)
    placed = bet(wallet, 3_000, "b-1")
    # ...and a deposit since, so that the buckets no longer look like before
    deposit(wallet, 700, "dep-1")

    # when
    result = rollback(wallet, "rb-1", "b-1", round_ref="r-1")

    # then each bucket gets back its own part, not "cash first"
    assert balances(wallet) == {"cash": 1_700, "bonus": 5_000, "reserved": 0, "debt": 0}
    txn = transaction_row(GAME, "rb-1")
    assert (txn.pk, txn.kind, txn.amount, txn.reverses_id) == (
        result.transaction_id,
        "rollback",
        3_000,
        placed.transaction_id,
    )
    assert txn.metadata == {"target": "b-1"}
    assert entries(txn.pk) == {"cash": 1_000, "bonus": 2_000, "house:games": -3_000}
    assert house_balance(wallet.brand_id, "GBP", "games") == 0
    event = wallet_events(wallet)[-1]
    assert event.type == "wallet.transaction_rolled_back"
    assert event.payload["transaction_id"] == txn.pk
    assert event.payload["reversed_transaction_id"] == placed.transaction_id
    assert (event.payload["cash"], event.payload["bonus"], event.payload["amount"]) == (1_700, 5_000, 3_000)
    assert result.replayed is False
    assert_ledger_consistent(wallet)


def test_bet_rollback_refunds_even_when_the_player_is_in_debt_meanwhile(make_wallet):
    # given a bet, then a win paid, spent and rolled back: debt
    wallet = make_wallet(cash=1_000)
    bet(wallet, 1_000, "b-1")
    win(wallet, 2_000, "w-1", "b-1")
    bet(wallet, 2_000, "b-2")
    rollback(wallet, "rb-w", "w-1")
    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 2_000}

    # when the first bet is rolled back, then its stake goes back to cash, as it came
    result = rollback(wallet, "rb-b", "b-1")

    assert balances(wallet) == {"cash": 1_000, "bonus": 0, "reserved": 0, "debt": 2_000}
    assert entries(result.transaction_id) == {"cash": 1_000, "house:games": -1_000}
    assert_ledger_consistent(wallet)


def test_win_rollback_takes_the_win_back_from_cash(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")
    placed_win = win(funded_wallet, 4_000, "w-1", "b-1")

    result = rollback(funded_wallet, "rb-1", "w-1")

    assert balances(funded_wallet) == {"cash": 9_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {"cash": -4_000, "house:games": 4_000}
    assert transaction_row(GAME, "rb-1").reverses_id == placed_win.transaction_id
    assert wallet_events(funded_wallet)[-1].payload["reversed_transaction_id"] == placed_win.transaction_id
    assert_ledger_consistent(funded_wallet)


def test_win_rollback_after_the_cash_was_spent_is_forced_into_debt(wallet):
    # given a free spin won 50.00, of which 40.00 was staked again
    bet(wallet, 0, "b-1")
    win(wallet, 5_000, "w-1", "b-1")
    bet(wallet, 4_000, "b-2")

    # when the win is rolled back
    result = rollback(wallet, "rb-1", "w-1")

    # then the 10.00 cash goes and the 40.00 it cannot cover is owed: never a negative balance
    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 4_000}
    assert entries(result.transaction_id) == {"cash": -1_000, "debt": -4_000, "house:games": 5_000}
    assert (result.cash, result.debt) == (0, 4_000)
    assert_ledger_consistent(wallet)

    # and the next deposit repays it first
    deposit(wallet, 5_000, "dep-1")
    assert balances(wallet) == {"cash": 1_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert_ledger_consistent(wallet)


def test_win_rollback_puts_back_the_debt_the_win_repaid(make_indebted_wallet):
    # given 30.00 debt, repaid by a 50.00 win (20.00 of it became cash)
    wallet = make_indebted_wallet(3_000)
    bet(wallet, 0, "b-1")
    win(wallet, 5_000, "w-1", "b-1")
    assert balances(wallet) == {"cash": 2_000, "bonus": 0, "reserved": 0, "debt": 0}

    # when the win is rolled back
    result = rollback(wallet, "rb-1", "w-1")

    # then the player is back where they were
    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 3_000}
    assert entries(result.transaction_id) == {"cash": -2_000, "debt": -3_000, "house:games": 5_000}
    assert_ledger_consistent(wallet)


def test_rollback_of_a_bet_with_a_win_undoes_the_bet_only(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")
    win(funded_wallet, 3_000, "w-1", "b-1")

    rollback(funded_wallet, "rb-1", "b-1")

    assert balances(funded_wallet) == {"cash": 13_000, "bonus": 0, "reserved": 0, "debt": 0}
    # the win can still be rolled back on its own
    rollback(funded_wallet, "rb-2", "w-1")
    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert house_balance(funded_wallet.brand_id, "GBP", "games") == 0
    assert_ledger_consistent(funded_wallet)


def test_rollback_of_a_zero_bet_moves_nothing(funded_wallet):
    placed = bet(funded_wallet, 0, "b-1")

    result = rollback(funded_wallet, "rb-1", "b-1")

    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {}
    assert transaction_row(GAME, "rb-1").reverses_id == placed.transaction_id


# --- a rollback that arrives before its target --------------------------------------------


def test_rollback_of_an_unknown_id_leaves_a_tombstone_and_moves_nothing(funded_wallet):
    # when
    result = rollback(funded_wallet, "rb-1", "b-late", round_ref="r-7")

    # then a tombstone holds the target's id, and the rollback reverses it
    tombstone = transaction_row(GAME, "b-late")
    assert (tombstone.kind, tombstone.amount, tombstone.wallet_id) == ("tombstone", 0, funded_wallet.pk)
    assert tombstone.metadata == {"rolled_back_by": "rb-1"}
    txn = transaction_row(GAME, "rb-1")
    assert (txn.pk, txn.kind, txn.amount, txn.reverses_id) == (
        result.transaction_id,
        "rollback",
        0,
        tombstone.pk,
    )
    assert entries(tombstone.pk) == {}
    assert entries(txn.pk) == {}
    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert result.replayed is False
    event = wallet_events(funded_wallet)[-1]
    assert event.type == "wallet.transaction_rolled_back"
    assert (event.payload["reversed_transaction_id"], event.payload["amount"]) == (tombstone.pk, 0)


def test_the_late_bet_after_its_rollback_is_refused_and_writes_nothing(funded_wallet):
    rollback(funded_wallet, "rb-1", "b-late")
    before = snapshot()

    with pytest.raises(TransactionRolledBack) as refused:
        bet(funded_wallet, 1_000, "b-late")

    assert refused.value.code == "transaction_rolled_back"
    assert snapshot() == before
    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    # ...as often as it is sent
    with pytest.raises(TransactionRolledBack):
        bet(funded_wallet, 1_000, "b-late")
    assert snapshot() == before


def test_a_late_win_whose_id_was_rolled_back_is_refused(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")
    rollback(funded_wallet, "rb-1", "w-late")
    before = snapshot()

    with pytest.raises(TransactionRolledBack):
        win(funded_wallet, 3_000, "w-late", "b-1")

    assert snapshot() == before


# --- exactly once ----------------------------------------------------------------------------


def test_the_same_rollback_sent_again_is_a_replay(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")
    first = rollback(funded_wallet, "rb-1", "b-1")
    before = snapshot()

    again = rollback(funded_wallet, "rb-1", "b-1")

    assert again.replayed is True
    assert again.transaction_id == first.transaction_id
    assert (again.cash, again.bonus, again.reserved, again.debt) == (10_000, 0, 0, 0)
    assert snapshot() == before


def test_the_same_rollback_of_an_unknown_id_sent_again_is_a_replay(funded_wallet):
    first = rollback(funded_wallet, "rb-1", "b-late")
    before = snapshot()

    again = rollback(funded_wallet, "rb-1", "b-late")

    assert (again.replayed, again.transaction_id) == (True, first.transaction_id)
    assert snapshot() == before


@pytest.mark.parametrize("target", ["b-1", "w-1", "b-late"])
def test_a_second_rollback_id_for_the_same_target_moves_nothing(funded_wallet, target):
    # given a bet with a win, and a first rollback of the target
    bet(funded_wallet, 1_000, "b-1")
    win(funded_wallet, 3_000, "w-1", "b-1")
    first = rollback(funded_wallet, "rb-1", target)
    before = snapshot()

    # when another rollback id asks for the same target
    second = rollback(funded_wallet, "rb-2", target)

    # then nothing moves; the id is recorded as a rollback without entries or a link to the
    # target (the first rollback stays the only one that undid it), so the id is spent
    after = snapshot()
    assert (second.kind, second.replayed) == ("rollback", False)
    assert second.transaction_id not in (None, first.transaction_id)
    assert after["wallets"] == before["wallets"]
    assert after["entries"] == before["entries"]
    assert after["transactions"] == before["transactions"] + 1
    recorded = transaction_row(GAME, "rb-2")
    assert (recorded.pk, recorded.reverses_id, recorded.entries.count()) == (second.transaction_id, None, 0)
    assert LedgerTransaction.objects.filter(reverses__external_id=target, reverses__source=GAME).count() == 1
    assert recorded.metadata == {"target": target, "already_undone_by": first.transaction_id}
    # ...and announced like any rollback, naming the target it asked for
    assert after["events"] == before["events"] + 1
    event = wallet_events(funded_wallet)[-1]
    assert (event.type, event.payload["transaction_id"]) == (
        "wallet.transaction_rolled_back",
        second.transaction_id,
    )
    assert event.payload["reversed_transaction_id"] == transaction_row(GAME, target).pk
    # and sending it again is a replay of that record, not a second one
    again = rollback(funded_wallet, "rb-2", target)
    assert (again.replayed, again.transaction_id) == (True, second.transaction_id)
    assert snapshot() == after


def test_a_spent_rollback_id_cannot_undo_another_transaction(funded_wallet):
    # given two bets, B1 undone by rb-1 and then asked again under rb-2 (a no-op that spends rb-2)
    bet(funded_wallet, 1_000, "b-1")
    bet(funded_wallet, 2_000, "b-2")
    rollback(funded_wallet, "rb-1", "b-1")
    rollback(funded_wallet, "rb-2", "b-1")
    before = snapshot()

    # when rb-2 is reused for B2
    with pytest.raises(DuplicateTransaction):
        rollback(funded_wallet, "rb-2", "b-2")

    # then B2 stays charged and nothing is written
    assert snapshot() == before
    assert not LedgerTransaction.objects.filter(reverses__external_id="b-2").exists()


def test_rollback_of_a_deposit_or_a_rollback_is_refused(funded_wallet):
    bet(funded_wallet, 1_000, "b-1")
    rollback(funded_wallet, "rb-1", "b-1")
    deposit(funded_wallet, 100, "dep-1")
    before = snapshot()

    with pytest.raises(RollbackRefused) as refused:
        rollback(funded_wallet, "rb-2", "rb-1")
    assert refused.value.code == "not_reversible"

    # a deposit lives under another source, so from the game's side it is an unknown id; under
    # its own source it cannot be rolled back here
    with pytest.raises(RollbackRefused) as refused:
        services.transaction_rollback(
            wallet=funded_wallet,
            source=PAYMENTS,
            external_id="rb-3",
            target_external_id="dep-1",
            actor=PROVIDER,
        )
    assert refused.value.code == "not_reversible"
    assert snapshot() == before


def test_rollback_of_another_wallets_bet_is_refused(make_wallet):
    mine, theirs = make_wallet(cash=1_000), make_wallet(cash=1_000)
    bet(theirs, 1_000, "b-1")
    before = snapshot()

    with pytest.raises(RollbackRefused) as refused:
        rollback(mine, "rb-1", "b-1")

    assert refused.value.code == "wrong_wallet"
    assert snapshot() == before
    assert balances(theirs) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 0}
