"""Wallet guards (core.guards): another app vetoes a movement inside the wallet's transaction."""

import dataclasses

import pytest

from apps.core.guards import GuardRefusal, WalletOperation, register_wallet_guard, unregister_wallet_guard
from apps.wallet import services
from apps.wallet.models import LedgerTransaction
from tests.wallet.actions import GAME, PAYMENTS, PSP, bet, deposit, rollback, win
from tests.wallet.ledger import balances, snapshot, transaction_row

pytestmark = pytest.mark.django_db


class LossLimitReached(GuardRefusal):
    code = "loss_limit"


@pytest.fixture
def guard():
    """guard(refuse=lambda op: ...): registers a guard recording every operation it is asked
    about; it is unregistered after the test whatever happens."""
    seen: list[WalletOperation] = []
    registered = []

    def install(refuse=lambda operation: True):
        def loss_limit_guard(operation: WalletOperation) -> None:
            seen.append(operation)
            if refuse(operation):
                raise LossLimitReached("Daily loss limit reached.")

        register_wallet_guard(loss_limit_guard)
        registered.append(loss_limit_guard)
        return seen

    try:
        yield install
    finally:
        for registered_guard in registered:
            unregister_wallet_guard(registered_guard)


def test_a_refusing_guard_vetoes_the_bet_and_nothing_is_written(guard, funded_wallet):
    seen = guard(refuse=lambda op: op.kind == "bet")
    before = snapshot()

    with pytest.raises(LossLimitReached) as refused:
        bet(funded_wallet, 1_000, "b-1", round_ref="r-9", game_ref="starburst")

    assert refused.value.code == "loss_limit"
    assert snapshot() == before
    assert transaction_row(GAME, "b-1") is None
    # the guard was told exactly what was about to happen (and when: checked below)
    assert [dataclasses.replace(op, occurred_at=None) for op in seen] == [
        WalletOperation(
            kind="bet",
            wallet_id=funded_wallet.pk,
            player_id=funded_wallet.player_id,
            brand_id=funded_wallet.brand_id,
            currency="GBP",
            amount=1_000,
            game_ref="starburst",
            round_ref="r-9",
            source=GAME,
        )
    ]


def test_once_the_guard_is_removed_the_vetoed_key_can_be_used_again(funded_wallet):
    def refuse_all(operation: WalletOperation) -> None:
        raise LossLimitReached()

    register_wallet_guard(refuse_all)
    try:
        with pytest.raises(LossLimitReached):
            bet(funded_wallet, 1_000, "b-1")
    finally:
        unregister_wallet_guard(refuse_all)

    result = bet(funded_wallet, 1_000, "b-1")

    assert result.replayed is False
    assert balances(funded_wallet)["cash"] == 9_000


def test_a_guard_that_allows_sees_the_operation_and_the_bet_goes_through(guard, funded_wallet):
    seen = guard(refuse=lambda op: False)

    bet(funded_wallet, 1_000, "b-1")

    assert [(op.kind, op.amount) for op in seen] == [("bet", 1_000)]
    assert balances(funded_wallet)["cash"] == 9_000


def test_a_guard_vetoing_deposits_only_leaves_bets_alone(guard, funded_wallet):
    guard(refuse=lambda op: op.kind == "deposit")
    before = snapshot()

    with pytest.raises(LossLimitReached):
        deposit(funded_wallet, 1_000, "dep-9")
    assert snapshot() == before

    bet(funded_wallet, 1_000, "b-1")
    assert balances(funded_wallet)["cash"] == 9_000


def test_a_replay_of_an_applied_bet_is_answered_without_asking_the_guards(guard, funded_wallet):
    first = bet(funded_wallet, 1_000, "b-1")
    seen = guard()  # refuses everything from now on
    before = snapshot()

    again = bet(funded_wallet, 1_000, "b-1")

    assert (again.replayed, again.transaction_id) == (True, first.transaction_id)
    assert seen == []
    assert snapshot() == before


@pytest.mark.parametrize("kind", ["win", "rollback", "withdrawal_reserve"])
def test_guards_are_asked_about_every_kind_of_movement(guard, funded_wallet, kind):
    bet(funded_wallet, 1_000, "b-1")
    seen = guard(refuse=lambda op: op.kind == kind)
    before = snapshot()

    with pytest.raises(LossLimitReached):
        {
            "win": lambda: win(funded_wallet, 500, "w-1", "b-1"),
            "rollback": lambda: rollback(funded_wallet, "rb-1", "b-1"),
            "withdrawal_reserve": lambda: services.withdrawal_reserve(
                wallet=funded_wallet, amount=500, source=PAYMENTS, external_id="wd-1", actor=PSP
            ),
        }[kind]()

    assert [op.kind for op in seen] == [kind]
    assert snapshot() == before


def test_a_rollback_tells_the_guards_what_it_undoes_and_a_repeat_undoes_nothing(guard, funded_wallet):
    bet(funded_wallet, 1_000, "b-1")
    win(funded_wallet, 300, "w-1", "b-1")
    seen = guard(refuse=lambda op: False)

    rollback(funded_wallet, "rb-win", "w-1")
    rollback(funded_wallet, "rb-bet", "b-1")
    rollback(funded_wallet, "rb-bet-again", "b-1")  # another id for an undone bet: no movement
    rollback(funded_wallet, "rb-unknown", "b-never-seen")  # a tombstone: nothing to undo

    assert [(op.kind, op.reverses_kind, op.source) for op in seen] == [
        ("rollback", "win", GAME),
        ("rollback", "bet", GAME),
        ("rollback", "", GAME),
        ("rollback", "", GAME),
    ]


def test_the_guard_is_told_the_moment_the_ledger_records(guard, funded_wallet):
    seen = guard(refuse=lambda op: False)

    result = bet(funded_wallet, 1_000, "b-1")

    assert seen[0].occurred_at == LedgerTransaction.objects.get(pk=result.transaction_id).created_at
