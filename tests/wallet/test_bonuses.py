"""Bonus money: granted against the bonuses account, forfeited back, converted into cash."""

import pytest

from apps.wallet import services
from apps.wallet.exceptions import InsufficientFunds
from tests.wallet.actions import BONUSES, bonus
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


def test_bonus_grant_credits_bonus_against_the_bonuses_account(funded_wallet):
    result = bonus(services.bonus_grant, funded_wallet, 2_000, "g-1")

    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 2_000, "reserved": 0, "debt": 0}
    txn = transaction_row(BONUSES, "g-1")
    assert (txn.pk, txn.kind, txn.amount) == (result.transaction_id, "bonus_grant", 2_000)
    assert entries(txn.pk) == {"bonus": 2_000, "house:bonuses": -2_000}
    assert house_balance(funded_wallet.brand_id, "GBP", "bonuses") == -2_000
    event = wallet_events(funded_wallet)[-1]
    assert event.type == "wallet.bonus_changed"
    assert (event.payload["kind"], event.payload["transaction_id"], event.payload["bonus"]) == (
        "bonus_grant",
        txn.pk,
        2_000,
    )
    assert_ledger_consistent(funded_wallet)


def test_bonus_grant_does_not_repay_debt(make_indebted_wallet):
    wallet = make_indebted_wallet(1_000)

    bonus(services.bonus_grant, wallet, 2_000, "g-1")

    assert balances(wallet) == {"cash": 0, "bonus": 2_000, "reserved": 0, "debt": 1_000}
    assert_ledger_consistent(wallet)


def test_bonus_forfeit_takes_bonus_back_to_the_bonuses_account(make_wallet):
    wallet = make_wallet(cash=1_000, bonus=5_000)

    result = bonus(services.bonus_forfeit, wallet, 2_000, "f-1")

    assert balances(wallet) == {"cash": 1_000, "bonus": 3_000, "reserved": 0, "debt": 0}
    assert transaction_row(BONUSES, "f-1").kind == "bonus_forfeit"
    assert entries(result.transaction_id) == {"bonus": -2_000, "house:bonuses": 2_000}
    assert house_balance(wallet.brand_id, "GBP", "bonuses") == -3_000
    event = wallet_events(wallet)[-1]
    assert (event.type, event.payload["kind"], event.payload["bonus"]) == (
        "wallet.bonus_changed",
        "bonus_forfeit",
        3_000,
    )
    assert_ledger_consistent(wallet)


def test_bonus_forfeit_of_more_than_is_left_takes_what_is_left_and_never_cash(make_wallet):
    wallet = make_wallet(cash=1_000, bonus=500)

    result = bonus(services.bonus_forfeit, wallet, 2_000, "f-1")

    assert balances(wallet) == {"cash": 1_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {"bonus": -500, "house:bonuses": 500}
    assert result.amount == 2_000  # what was asked; the entries say what was taken
    assert_ledger_consistent(wallet)


def test_bonus_forfeit_with_no_bonus_left_is_recorded_without_entries(funded_wallet):
    result = bonus(services.bonus_forfeit, funded_wallet, 2_000, "f-1")

    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert entries(result.transaction_id) == {}
    assert_ledger_consistent(funded_wallet)


def test_bonus_convert_turns_bonus_into_cash_inside_the_wallet(make_wallet):
    wallet = make_wallet(cash=1_000, bonus=5_000)

    result = bonus(services.bonus_convert, wallet, 3_000, "c-1")

    assert balances(wallet) == {"cash": 4_000, "bonus": 2_000, "reserved": 0, "debt": 0}
    assert transaction_row(BONUSES, "c-1").kind == "bonus_convert"
    # the cost was booked at the grant: nothing crosses to the house now
    assert entries(result.transaction_id) == {"bonus": -3_000, "cash": 3_000}
    assert house_balance(wallet.brand_id, "GBP", "bonuses") == -5_000
    event = wallet_events(wallet)[-1]
    assert (event.type, event.payload["kind"], event.payload["cash"], event.payload["bonus"]) == (
        "wallet.bonus_changed",
        "bonus_convert",
        4_000,
        2_000,
    )
    assert_ledger_consistent(wallet)


def test_bonus_convert_of_more_than_the_bonus_is_refused_and_writes_nothing(make_wallet):
    wallet = make_wallet(cash=9_000, bonus=1_000)
    before = snapshot()
    version_before = version(wallet)

    with pytest.raises(InsufficientFunds) as refused:
        bonus(services.bonus_convert, wallet, 1_001, "c-1")

    assert refused.value.balance == {"cash": 9_000, "bonus": 1_000, "reserved": 0, "debt": 0}
    assert snapshot() == before
    assert version(wallet) == version_before
