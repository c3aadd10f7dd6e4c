"""Deposits and withdrawals: cash in, cash reserved, released or paid out."""

import pytest

from apps.wallet import services
from apps.wallet.exceptions import InsufficientFunds
from tests.wallet.actions import PAYMENTS, bet, pay, rollback, win
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


def test_deposit_credits_cash_with_entries_against_payments_clearing(wallet):
    # when
    result = pay(services.deposit_credit, wallet, 2_500, "dep-1", payment_ref="piq-77")

    # then: the wallet row, the transaction row and its entries
    assert balances(wallet) == {"cash": 2_500, "bonus": 0, "reserved": 0, "debt": 0}
    assert version(wallet) == 1
    txn = transaction_row(PAYMENTS, "dep-1")
    assert (txn.pk, txn.kind, txn.amount, txn.currency_id, txn.payment_ref, txn.actor) == (
        result.transaction_id,
        "deposit",
        2_500,
        "GBP",
        "piq-77",
        "system:payments",
    )
    assert txn.wallet_id == wallet.pk
    assert txn.brand_id == wallet.brand_id
    assert entries(txn.pk) == {"cash": 2_500, "house:payments_clearing": -2_500}
    assert house_balance(wallet.brand_id, "GBP", "payments_clearing") == -2_500
    # ...the answer
    assert (result.cash, result.bonus, result.reserved, result.debt, result.replayed) == (
        2_500,
        0,
        0,
        0,
        False,
    )
    assert result.kind == "deposit"
    assert result.amount == 2_500
    # ...and the one event, with the balances after
    [event] = wallet_events(wallet)
    assert event.type == "wallet.deposit_credited"
    assert event.actor == "system:payments"
    assert (event.brand_id, event.player_id) == (wallet.brand_id, wallet.player_id)
    assert event.payload == {
        "transaction_id": txn.pk,
        "wallet_id": wallet.pk,
        "player_id": wallet.player_id,
        "brand_id": wallet.brand_id,
        "currency": "GBP",
        "amount": 2_500,
        "cash": 2_500,
        "bonus": 0,
        "reserved": 0,
        "debt": 0,
        "round_ref": "",
        "game_ref": "",
        "payment_ref": "piq-77",
        "metadata": {},
    }
    assert_ledger_consistent(wallet)


def test_deposits_add_up(wallet):
    pay(services.deposit_credit, wallet, 1_000, "dep-1")
    pay(services.deposit_credit, wallet, 234, "dep-2")

    assert balances(wallet) == {"cash": 1_234, "bonus": 0, "reserved": 0, "debt": 0}
    assert house_balance(wallet.brand_id, "GBP", "payments_clearing") == -1_234
    assert [e.payload["cash"] for e in wallet_events(wallet)] == [1_000, 1_234]
    assert_ledger_consistent(wallet)


def test_deposit_repays_debt_before_it_becomes_cash(make_indebted_wallet):
    # given a player who owes 30.00
    wallet = make_indebted_wallet(3_000)
    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 3_000}

    # when 10.00 arrives, then all of it repays debt
    first = pay(services.deposit_credit, wallet, 1_000, "dep-1")
    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 0, "debt": 2_000}
    assert entries(first.transaction_id) == {"debt": 1_000, "house:payments_clearing": -1_000}

    # when 50.00 more arrives, then 20.00 repays the rest and 30.00 is cash
    second = pay(services.deposit_credit, wallet, 5_000, "dep-2")
    assert balances(wallet) == {"cash": 3_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(second.transaction_id) == {
        "debt": 2_000,
        "cash": 3_000,
        "house:payments_clearing": -5_000,
    }
    assert (second.cash, second.debt) == (3_000, 0)
    assert_ledger_consistent(wallet)


def test_withdrawal_reserve_moves_cash_to_reserved_without_touching_the_house(funded_wallet):
    result = pay(services.withdrawal_reserve, funded_wallet, 3_000, "wd-1", payment_ref="piq-w1")

    assert balances(funded_wallet) == {"cash": 7_000, "bonus": 0, "reserved": 3_000, "debt": 0}
    assert entries(result.transaction_id) == {"cash": -3_000, "reserved": 3_000}
    assert transaction_row(PAYMENTS, "wd-1").kind == "withdrawal_reserve"
    event = wallet_events(funded_wallet)[-1]
    assert event.type == "wallet.withdrawal_reserved"
    assert (event.payload["transaction_id"], event.payload["cash"], event.payload["reserved"]) == (
        result.transaction_id,
        7_000,
        3_000,
    )
    assert event.payload["payment_ref"] == "piq-w1"
    assert_ledger_consistent(funded_wallet)


def test_withdrawal_reserve_of_all_the_cash_is_allowed(funded_wallet):
    pay(services.withdrawal_reserve, funded_wallet, 10_000, "wd-1")

    assert balances(funded_wallet) == {"cash": 0, "bonus": 0, "reserved": 10_000, "debt": 0}


def test_withdrawal_reserve_beyond_the_cash_is_refused_with_the_balances_and_writes_nothing(make_wallet):
    # given 10.00 cash and 50.00 bonus: bonus money cannot be withdrawn
    wallet = make_wallet(cash=1_000, bonus=5_000)
    before = snapshot()

    # when
    with pytest.raises(InsufficientFunds) as refused:
        pay(services.withdrawal_reserve, wallet, 1_001, "wd-1")

    # then
    assert refused.value.code == "insufficient_funds"
    assert refused.value.balance == {"cash": 1_000, "bonus": 5_000, "reserved": 0, "debt": 0}
    assert snapshot() == before
    assert transaction_row(PAYMENTS, "wd-1") is None


def test_withdrawal_release_gives_reserved_money_back_to_cash(funded_wallet):
    pay(services.withdrawal_reserve, funded_wallet, 3_000, "wd-1")

    result = pay(services.withdrawal_release, funded_wallet, 3_000, "wd-1-release")

    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {"reserved": -3_000, "cash": 3_000}
    assert wallet_events(funded_wallet)[-1].type == "wallet.withdrawal_released"
    assert house_balance(funded_wallet.brand_id, "GBP", "payments_clearing") == -10_000
    assert_ledger_consistent(funded_wallet)


def test_withdrawal_release_repays_debt_first(make_wallet):
    # given 20.00 reserved, then a win rolled back after its cash was spent: 15.00 debt
    wallet = make_wallet(cash=2_000)
    pay(services.withdrawal_reserve, wallet, 2_000, "wd-1")
    wallet_pay_and_spend_a_win(wallet, 1_500)
    assert balances(wallet) == {"cash": 0, "bonus": 0, "reserved": 2_000, "debt": 1_500}

    # when the withdrawal is cancelled
    result = pay(services.withdrawal_release, wallet, 2_000, "wd-1-release")

    # then the debt is repaid first, the rest is cash; nothing crosses to the house
    assert balances(wallet) == {"cash": 500, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {"reserved": -2_000, "debt": 1_500, "cash": 500}
    assert_ledger_consistent(wallet)


def wallet_pay_and_spend_a_win(wallet, amount: int) -> None:
    """A zero bet, a win of `amount`, a bet spending it, and the win rolled back: debt of `amount`."""
    bet(wallet, 0, "free-spin")
    win(wallet, amount, "win", "free-spin")
    bet(wallet, amount, "spend")
    rollback(wallet, "rb-win", "win")


def test_withdrawal_release_beyond_the_reserved_money_is_refused(funded_wallet):
    pay(services.withdrawal_reserve, funded_wallet, 3_000, "wd-1")
    before = snapshot()

    with pytest.raises(InsufficientFunds) as refused:
        pay(services.withdrawal_release, funded_wallet, 3_001, "wd-1-release")

    assert refused.value.balance == {"cash": 7_000, "bonus": 0, "reserved": 3_000, "debt": 0}
    assert snapshot() == before


def test_withdrawal_settle_pays_the_reserved_money_out_to_payments_clearing(funded_wallet):
    pay(services.withdrawal_reserve, funded_wallet, 3_000, "wd-1")

    result = pay(services.withdrawal_settle, funded_wallet, 3_000, "wd-1-paid")

    assert balances(funded_wallet) == {"cash": 7_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {"reserved": -3_000, "house:payments_clearing": 3_000}
    # 100.00 came in, 30.00 went out
    assert house_balance(funded_wallet.brand_id, "GBP", "payments_clearing") == -7_000
    event = wallet_events(funded_wallet)[-1]
    assert event.type == "wallet.withdrawal_settled"
    assert event.payload["reserved"] == 0
    assert_ledger_consistent(funded_wallet)


def test_withdrawal_settle_in_parts(funded_wallet):
    pay(services.withdrawal_reserve, funded_wallet, 3_000, "wd-1")

    pay(services.withdrawal_settle, funded_wallet, 1_000, "wd-1-paid-a")
    pay(services.withdrawal_settle, funded_wallet, 2_000, "wd-1-paid-b")

    assert balances(funded_wallet) == {"cash": 7_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert_ledger_consistent(funded_wallet)


def test_withdrawal_settle_beyond_the_reserved_money_is_refused(funded_wallet):
    pay(services.withdrawal_reserve, funded_wallet, 3_000, "wd-1")
    before = snapshot()

    with pytest.raises(InsufficientFunds) as refused:
        pay(services.withdrawal_settle, funded_wallet, 3_001, "wd-1-paid")

    assert refused.value.balance == {"cash": 7_000, "bonus": 0, "reserved": 3_000, "debt": 0}
    assert snapshot() == before
