"""Every money service: the same key and request is a replay, the same key and another request a conflict."""

import pytest

from apps.wallet import services
from apps.wallet.exceptions import DuplicateTransaction
from tests.wallet.actions import BONUSES, GAME, PAYMENTS, PROVIDER, PSP, bet, pay
from tests.wallet.ledger import balances, snapshot, transaction_row

pytestmark = pytest.mark.django_db


def _deposit(wallet, **changes):
    args = {"amount": 1_000, "payment_ref": "piq-1"} | changes
    return services.deposit_credit(wallet=wallet, source=PAYMENTS, external_id="k-1", actor=PSP, **args)


def _payment(service):
    def call(wallet, **changes):
        args = {"amount": 1_000, "payment_ref": "piq-1"} | changes
        return service(wallet=wallet, source=PAYMENTS, external_id="k-1", actor=PSP, **args)

    return call


def _bet(wallet, **changes):
    args = {"amount": 1_000, "round_ref": "r-1", "game_ref": "g-1"} | changes
    return services.bet_place(wallet=wallet, source=GAME, external_id="k-1", actor=PROVIDER, **args)


def _win(wallet, **changes):
    args = {"amount": 1_000, "round_ref": "r-1", "game_ref": "g-1", "bet_external_id": "b-0"} | changes
    return services.win_settle(wallet=wallet, source=GAME, external_id="k-1", actor=PROVIDER, **args)


def _rollback(wallet, **changes):
    args = {"target_external_id": "b-0", "round_ref": "r-1", "game_ref": "g-1"} | changes
    return services.transaction_rollback(
        wallet=wallet, source=GAME, external_id="k-1", actor=PROVIDER, **args
    )


def _bonus(service):
    def call(wallet, **changes):
        args = {"amount": 1_000} | changes
        return service(wallet=wallet, source=BONUSES, external_id="k-1", actor=PSP, **args)

    return call


# name: (the call, the kind it writes, changes that make it another request under the same key)
CASES = {
    "deposit": (_deposit, "deposit", [{"amount": 1_001}, {"payment_ref": "piq-2"}]),
    "withdrawal_reserve": (
        _payment(services.withdrawal_reserve),
        "withdrawal_reserve",
        [{"amount": 999}, {"payment_ref": "piq-2"}],
    ),
    "withdrawal_release": (
        _payment(services.withdrawal_release),
        "withdrawal_release",
        [{"amount": 999}, {"payment_ref": "piq-2"}],
    ),
    "withdrawal_settle": (
        _payment(services.withdrawal_settle),
        "withdrawal_settle",
        [{"amount": 999}, {"payment_ref": "piq-2"}],
    ),
    "bet": (_bet, "bet", [{"amount": 1_001}, {"amount": 0}, {"round_ref": "r-2"}, {"game_ref": "g-2"}]),
    "win": (_win, "win", [{"amount": 1_001}, {"round_ref": "r-2"}, {"bet_external_id": "b-alt"}]),
    "rollback": (_rollback, "rollback", [{"round_ref": "r-2"}, {"target_external_id": "b-alt"}]),
    "bonus_grant": (_bonus(services.bonus_grant), "bonus_grant", [{"amount": 1_001}]),
    "bonus_forfeit": (_bonus(services.bonus_forfeit), "bonus_forfeit", [{"amount": 1_001}]),
    "bonus_convert": (_bonus(services.bonus_convert), "bonus_convert", [{"amount": 999}]),
}


@pytest.fixture
def busy_wallet(make_wallet):
    """100.00 cash (30.00 of it reserved), 50.00 bonus, and two bets standing (b-0, b-alt)."""
    wallet = make_wallet(cash=10_000, bonus=5_000)
    pay(services.withdrawal_reserve, wallet, 3_000, "wd-0")
    bet(wallet, 500, "b-0")
    bet(wallet, 500, "b-alt")
    return wallet


@pytest.mark.parametrize("name", CASES)
def test_the_same_request_again_is_a_replay_of_the_original(busy_wallet, name):
    call, kind, _ = CASES[name]
    first = call(busy_wallet)
    assert (first.replayed, first.kind) == (False, kind)
    after_first = balances(busy_wallet)
    before = snapshot()

    # when the same request is sent again (twice)
    again = call(busy_wallet)
    third = call(busy_wallet)

    # then it is answered with the original transaction and the current balances, and
    # nothing is written
    assert snapshot() == before
    for replay in (again, third):
        assert replay.replayed is True
        assert replay.transaction_id == first.transaction_id
        assert replay.kind == kind
        assert replay.amount == first.amount
        assert {b: getattr(replay, b) for b in after_first} == after_first
    assert transaction_row(*_key(name)).pk == first.transaction_id


@pytest.mark.parametrize(
    ("name", "changes"),
    [(name, changes) for name, (_, _, variants) in CASES.items() for changes in variants],
)
def test_the_same_key_with_another_request_is_refused_and_changes_nothing(busy_wallet, name, changes):
    call, _, _ = CASES[name]
    first = call(busy_wallet)
    before = snapshot()

    with pytest.raises(DuplicateTransaction) as refused:
        call(busy_wallet, **changes)

    assert refused.value.code == "duplicate_transaction"
    assert refused.value.http_status == 409
    assert snapshot() == before
    # ...and the original still answers as itself
    assert call(busy_wallet).transaction_id == first.transaction_id


@pytest.mark.parametrize("name", ["deposit", "bet", "bonus_grant"])
def test_the_same_key_on_another_wallet_is_refused(busy_wallet, make_wallet, name):
    call, _, _ = CASES[name]
    call(busy_wallet)
    other = make_wallet(cash=10_000)
    before = snapshot()

    with pytest.raises(DuplicateTransaction):
        call(other)

    assert snapshot() == before


def test_the_same_key_for_another_kind_of_movement_is_refused(funded_wallet):
    services.bet_place(wallet=funded_wallet, amount=100, source=GAME, external_id="k-1", actor=PROVIDER)
    before = snapshot()

    with pytest.raises(DuplicateTransaction):
        services.bonus_grant(wallet=funded_wallet, amount=100, source=GAME, external_id="k-1", actor=PROVIDER)
    with pytest.raises(DuplicateTransaction):
        services.deposit_credit(wallet=funded_wallet, amount=100, source=GAME, external_id="k-1", actor=PSP)

    assert snapshot() == before


def test_keys_are_per_source(funded_wallet):
    first = services.deposit_credit(
        wallet=funded_wallet, amount=100, source="psp-a", external_id="k-1", actor=PSP
    )
    second = services.deposit_credit(
        wallet=funded_wallet, amount=100, source="psp-b", external_id="k-1", actor=PSP
    )

    assert first.transaction_id != second.transaction_id
    assert (first.replayed, second.replayed) == (False, False)
    assert balances(funded_wallet)["cash"] == 10_200


def test_a_replay_does_not_depend_on_metadata(funded_wallet):
    first = bet(funded_wallet, 100, "b-1", metadata={"round_closed": False})

    again = bet(funded_wallet, 100, "b-1", metadata={"round_closed": True})

    assert (again.replayed, again.transaction_id) == (True, first.transaction_id)
    assert balances(funded_wallet)["cash"] == 9_900


def _key(name: str) -> tuple[str, str]:
    source = {"deposit": PAYMENTS, "bet": GAME, "win": GAME, "rollback": GAME}.get(name)
    if source is None:
        source = PAYMENTS if name.startswith("withdrawal") else BONUSES
    return source, "k-1"


@pytest.mark.parametrize("reused", ["rb-1", "b-1"], ids=["an-earlier-rollback-id", "a-bet-id"])
def test_a_used_id_sent_as_rollback_of_a_target_another_rollback_undid_is_a_conflict(funded_wallet, reused):
    # given b-2 undone by rb-2, and `reused` already the key of another transaction
    bet(funded_wallet, 100, "b-1")
    bet(funded_wallet, 200, "b-2")
    services.transaction_rollback(
        wallet=funded_wallet, source=GAME, external_id="rb-1", target_external_id="b-1", actor=PROVIDER
    )
    services.transaction_rollback(
        wallet=funded_wallet, source=GAME, external_id="rb-2", target_external_id="b-2", actor=PROVIDER
    )
    before = snapshot()

    # when that key comes back as a rollback of b-2, then it is another request under a used key
    with pytest.raises(DuplicateTransaction):
        services.transaction_rollback(
            wallet=funded_wallet, source=GAME, external_id=reused, target_external_id="b-2", actor=PROVIDER
        )

    assert snapshot() == before
