"""Races on PostgreSQL: threads released together by a barrier, each on its own connection.

What the wallet promises under concurrency (services.py): no lost update, no negative
balance, no deadlock, each key applied once, a rollback either overtaking its target
(tombstone) or undoing it, and a win either settled before its bet is rolled back or
refused after.
"""

import fcntl
import random
import tempfile
import threading
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.core.models import Event
from apps.wallet import services
from apps.wallet.exceptions import (
    AdjustmentRefused,
    InsufficientFunds,
    TransactionNotFound,
    TransactionRolledBack,
)
from apps.wallet.models import AdjustmentRequest, HouseAccount, LedgerEntry, LedgerTransaction, Wallet
from tests.factories import PlayerFactory
from tests.wallet.actions import GAME, bet, pay, rollback, win
from tests.wallet.ledger import (
    assert_ledger_consistent,
    balances,
    entries,
    snapshot,
    transaction_row,
)
from tests.wallet.model import BUCKETS, Request, WalletModel, send

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# The errors a race may legitimately end in; anything else (a deadlock, an integrity
# error, a duplicate of a request sent with identical content) fails the test.
EXPECTED_ERRORS = (InsufficientFunds, TransactionNotFound, TransactionRolledBack)


@pytest.fixture(autouse=True)
def _one_race_at_a_time():
    """Races of the two xdist workers take turns: 2 x 33 connections would crowd PostgreSQL's
    max_connections (100) together with everything else running on it."""
    name = settings.DATABASES["default"]["NAME"].removesuffix("_gw0").removesuffix("_gw1")
    path = Path(tempfile.gettempdir()) / f"wallet-races-{name}.lock"
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_together(calls, *, timeout: float = 60) -> list[tuple[str, object]]:
    """Run each call in its own thread, all released at once; ("ok", value) or ("error", exc).

    Each call is a list of steps run in order by its thread (a plain callable is one step);
    the outcome is a list per thread in that case.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def work(index, call):
        try:
            barrier.wait(timeout=30)
            if callable(call):
                outcomes[index] = outcome_of(call)
            else:
                outcomes[index] = [outcome_of(step) for step in call]
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return outcomes


def outcome_of(step) -> tuple[str, object]:
    try:
        return ("ok", step())
    except Exception as exc:  # noqa: BLE001 - every outcome is kept for the test to judge
        return ("error", exc)


def wallet_events_after(wallet, event_id: int) -> list[Event]:
    return list(
        Event.objects.filter(
            player_id=wallet.player_id, type__startswith="wallet.", pk__gt=event_id
        ).order_by("pk")
    )


def last_event_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


# --- one wallet, 32 threads, everything at once ------------------------------------------------

THREADS = 32
STEPS = 8


def thread_plan(index: int, rng: random.Random) -> list[Request]:
    """What one thread sends: its own bets, wins and rollbacks, repeats of its own requests,
    the bet it shares with its pair-mate, and rollbacks of its neighbour's bets and wins."""
    pair_bet = Request("bet", 0, f"pair-{index // 2}", 100 + 7 * (index // 2), round_ref="r-pair")
    plan = [pair_bet]
    neighbour = (index + 1) % THREADS
    for step in range(STEPS):
        action = rng.choice(["bet", "bet", "win", "win", "rollback", "again", "cross"])
        own_bets = [r.key for r in plan if r.kind == "bet"]
        own_wins = [r.key for r in plan if r.kind == "win"]
        if action == "bet":
            plan.append(Request("bet", 0, f"b-{index}-{step}", rng.randint(0, 2_000), round_ref=f"r-{index}"))
        elif action == "win":
            target = rng.choice(own_bets)
            plan.append(
                Request("win", 0, f"w-{index}-{step}", rng.randint(0, 1_500), f"r-{index}", target=target)
            )
        elif action == "rollback":
            target = rng.choice(own_bets + own_wins)
            plan.append(Request("rollback", 0, f"rb-{index}-{step}", round_ref=f"r-{index}", target=target))
        elif action == "again":
            plan.append(rng.choice(plan))
        else:
            # the neighbour's bet or win of this step number, which may not have arrived yet
            target = rng.choice(
                [f"b-{neighbour}-{step}", f"w-{neighbour}-{step}", f"b-{neighbour}-{step - 1}"]
            )
            plan.append(
                Request("rollback", 0, f"x-{index}-{step}", round_ref=f"r-{neighbour}", target=target)
            )
    return plan


def test_thirty_two_threads_on_one_wallet_leave_it_exactly_as_the_successful_requests_say(make_wallet):
    # given a wallet with 50.00 cash and 10.00 bonus
    wallet = make_wallet()
    model = WalletModel()
    for setup in (Request("deposit", 0, "race-dep", 5_000), Request("bonus_grant", 0, "race-bonus", 1_000)):
        send(wallet, setup)
        model.apply(setup)
    start_event = last_event_id()
    rng = random.Random(20261125)
    plans = [thread_plan(index, rng) for index in range(THREADS)]

    # when every thread sends its requests, all released at once
    outcomes = run_together([[lambda r=r: send(wallet, r) for r in plan] for plan in plans], timeout=120)

    # then only the expected refusals happened, and no request got a conflict or worse
    results = [
        (request, value)
        for plan, per_thread in zip(plans, outcomes, strict=True)
        for request, (kind, value) in zip(plan, per_thread, strict=True)
    ]
    errors = [value for _, value in results if isinstance(value, Exception)]
    assert all(isinstance(error, EXPECTED_ERRORS) for error in errors), Counter(repr(e) for e in errors)
    succeeded = [(request, value) for request, value in results if not isinstance(value, Exception)]
    assert any(isinstance(error, InsufficientFunds) for error in errors)  # the race did press on the funds

    # ...each key was applied once: one ledger row per key, one new (non-replayed) answer per
    # key, and every answer (new or replayed) names that row
    applied = {}
    for request, result in succeeded:
        if not result.replayed:
            assert (request.source, request.key) not in applied, request
            applied[(request.source, request.key)] = (request, result)
    for request, result in succeeded:
        assert result.transaction_id == transaction_row(request.source, request.key).pk, request
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT source, external_id, COUNT(*) FROM wallet_ledgertransaction"
            " GROUP BY source, external_id HAVING COUNT(*) > 1"
        )
        assert cursor.fetchall() == []
    # ...the pair-mates' shared bets: one of each pair charged, the other a replay (or both refused)
    for pair in range(THREADS // 2):
        answers = [result for request, result in succeeded if request.key == f"pair-{pair}"]
        assert sum(not result.replayed for result in answers) == (1 if answers else 0)

    # ...replaying the movements through the model in the order the database serialised
    # them gives, after every one, exactly the balances its event reports, none negative.
    # (A movement's event is written while it holds the wallet's row lock, so event order
    # is lock order. Transactions that moved nothing - a zero bet, a tombstone, a rollback
    # id of something already undone - take no lock; the model must agree they move nothing.)
    events = wallet_events_after(wallet, start_event)
    by_transaction = {result.transaction_id: request for request, result in applied.values()}
    assert sorted(e.payload["transaction_id"] for e in events) == sorted(by_transaction)
    moved = set(
        LedgerEntry.objects.filter(transaction_id__in=by_transaction).values_list("transaction_id", flat=True)
    )
    for event in events:
        before_step = dict(model.buckets[0])
        model.apply(by_transaction[event.payload["transaction_id"]])
        reported = {bucket: event.payload[bucket] for bucket in BUCKETS}
        assert min(reported.values()) >= 0
        if event.payload["transaction_id"] in moved:
            assert reported == model.buckets[0], event.payload
        else:
            assert model.buckets[0] == before_step, event.payload
    # ...and the wallet ends exactly there, equal to its entries, every transaction balanced
    assert balances(wallet) == model.buckets[0]
    assert_ledger_consistent(wallet)
    # ...with exactly the ledger rows the model expects
    rows = sorted(
        LedgerTransaction.objects.filter(wallet=wallet).values_list("source", "external_id", "kind", "amount")
    )
    assert rows == sorted(
        (source, key, record.kind, record.amount) for (source, key), record in model.records.items()
    )

    # and, independently of any order: what the player holds net moved by exactly the
    # stakes taken, the wins paid and the rollbacks that undid one of them
    net = 5_000 + 1_000
    undone = {}
    for request, _ in sorted(applied.values(), key=lambda pair: pair[1].transaction_id):
        if request.kind == "rollback" and request.target not in undone:
            undone[request.target] = request
    for request, _ in applied.values():
        if request.kind == "bet":
            net -= request.amount
        elif request.kind == "win":
            net += request.amount
    for target in undone:
        target_request = applied.get((GAME, target), (None,))[0]
        if target_request is not None:
            net += target_request.amount if target_request.kind == "bet" else -target_request.amount
    final = balances(wallet)
    assert final["cash"] + final["bonus"] + final["reserved"] - final["debt"] == net


# --- the same key many times at once --------------------------------------------------------------


def test_the_same_bet_sent_by_sixteen_threads_at_once_is_charged_once(funded_wallet):
    before_event = last_event_id()

    outcomes = run_together(
        [lambda: bet(funded_wallet, 1_500, "b-1", round_ref="r-1", game_ref="g-1") for _ in range(16)]
    )

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    results = [value for _, value in outcomes]
    assert Counter(result.replayed for result in results) == {True: 15, False: 1}
    row = transaction_row(GAME, "b-1")
    assert {result.transaction_id for result in results} == {row.pk}
    assert LedgerTransaction.objects.filter(source=GAME, external_id="b-1").count() == 1
    assert entries(row.pk) == {"cash": -1_500, "house:games": 1_500}
    assert balances(funded_wallet) == {"cash": 8_500, "bonus": 0, "reserved": 0, "debt": 0}
    assert [e.type for e in wallet_events_after(funded_wallet, before_event)] == ["wallet.bet_placed"]
    assert_ledger_consistent(funded_wallet)


def test_the_same_rollback_sent_by_many_threads_refunds_once(funded_wallet):
    bet(funded_wallet, 2_000, "b-1")
    before = snapshot()

    outcomes = run_together([lambda: rollback(funded_wallet, "rb-1", "b-1") for _ in range(16)])

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert Counter(result.replayed for _, result in outcomes) == {True: 15, False: 1}
    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert snapshot()["transactions"] == before["transactions"] + 1
    assert_ledger_consistent(funded_wallet)


def test_rollbacks_of_one_bet_under_different_ids_at_once_refund_it_once(funded_wallet):
    placed = bet(funded_wallet, 2_000, "b-1")

    outcomes = run_together([lambda i=i: rollback(funded_wallet, f"rb-{i}", "b-1") for i in range(16)])

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    # one of them undid the bet; the others are recorded without a movement
    undoing = LedgerTransaction.objects.get(reverses_id=placed.transaction_id)
    assert entries(undoing.pk) == {"cash": 2_000, "house:games": -2_000}
    others = LedgerTransaction.objects.filter(kind="rollback", reverses__isnull=True, wallet=funded_wallet)
    assert others.count() == 15
    assert all(entries(other.pk) == {} for other in others)
    assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert_ledger_consistent(funded_wallet)


# --- a rollback racing its target ------------------------------------------------------------------

PAIRS = 8
ROUNDS = 3


def test_a_rollback_racing_its_bet_never_leaves_the_bet_charged(funded_wallet):
    """Either the rollback comes first (tombstone; the bet is refused as rolled back) or the
    bet does (charged, then refunded). Never a charge without its refund."""
    orders = Counter()
    for round_no in range(ROUNDS):
        calls = []
        for pair in range(PAIRS):
            key = f"b-{round_no}-{pair}"
            calls.append(lambda key=key, pair=pair: bet(funded_wallet, 500 + pair, key))
            calls.append(lambda key=key: rollback(funded_wallet, f"rb-{key}", key))

        outcomes = run_together(calls)

        for pair in range(PAIRS):
            key = f"b-{round_no}-{pair}"
            (bet_kind, bet_value), (rollback_kind, rollback_value) = outcomes[2 * pair : 2 * pair + 2]
            assert rollback_kind == "ok", rollback_value
            assert rollback_value.replayed is False
            row = transaction_row(GAME, key)
            undo = LedgerTransaction.objects.get(reverses=row)
            assert undo.external_id == f"rb-{key}"
            if bet_kind == "ok":
                orders["bet first"] += 1
                assert row.kind == "bet"
                assert entries(undo.pk) == {side: -amount for side, amount in entries(row.pk).items()}, (
                    "the bet was charged but not refunded"
                )
            else:
                orders["rollback first"] += 1
                assert isinstance(bet_value, TransactionRolledBack), bet_value
                assert row.kind == "tombstone"
                assert entries(undo.pk) == {}
        assert balances(funded_wallet) == {"cash": 10_000, "bonus": 0, "reserved": 0, "debt": 0}
    assert sum(orders.values()) == PAIRS * ROUNDS
    assert_ledger_consistent(funded_wallet)


def test_a_win_racing_the_rollback_of_its_bet_is_settled_before_it_or_refused(funded_wallet):
    """The bet row is share-locked by the win and locked for update by the rollback, so:
    either the win settles first and the rollback then undoes the bet only, or the rollback
    comes first and the win is refused. Never a win paid on a bet already refunded."""
    bets = {f"b-{pair}": bet(funded_wallet, 100 * (pair + 1), f"b-{pair}") for pair in range(PAIRS)}
    start_event = last_event_id()
    calls = []
    for pair in range(PAIRS):
        calls.append(lambda pair=pair: win(funded_wallet, 1_000 + pair, f"w-{pair}", f"b-{pair}"))
        calls.append(lambda pair=pair: rollback(funded_wallet, f"rb-{pair}", f"b-{pair}"))

    outcomes = run_together(calls)

    events = {e.payload["transaction_id"]: e.pk for e in wallet_events_after(funded_wallet, start_event)}
    paid = 0
    for pair in range(PAIRS):
        (win_kind, win_value), (rollback_kind, rollback_value) = outcomes[2 * pair : 2 * pair + 2]
        assert rollback_kind == "ok", rollback_value
        undo = transaction_row(GAME, f"rb-{pair}")
        assert undo.reverses_id == bets[f"b-{pair}"].transaction_id
        assert entries(undo.pk) == {"cash": 100 * (pair + 1), "house:games": -100 * (pair + 1)}
        if win_kind == "ok":
            # settled first: its event precedes the rollback's, and it stands
            assert events[win_value.transaction_id] < events[undo.pk]
            assert not LedgerTransaction.objects.filter(reverses_id=win_value.transaction_id).exists()
            paid += 1_000 + pair
        else:
            assert isinstance(win_value, TransactionRolledBack), win_value
            assert transaction_row(GAME, f"w-{pair}") is None
    assert balances(funded_wallet) == {"cash": 10_000 + paid, "bonus": 0, "reserved": 0, "debt": 0}
    assert_ledger_consistent(funded_wallet)


# --- the last of the money ---------------------------------------------------------------------------


def test_bets_and_withdrawals_racing_for_the_last_of_the_cash_never_overdraw(funded_wallet):
    calls = []
    for i in range(16):
        calls.append(lambda i=i: bet(funded_wallet, 1_000, f"b-{i}"))
        calls.append(lambda i=i: pay(services.withdrawal_reserve, funded_wallet, 1_000, f"wd-{i}"))

    outcomes = run_together(calls)

    ok = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "error"]
    assert len(ok) == 10
    assert len(refused) == 22
    assert all(isinstance(error, InsufficientFunds) for error in refused), refused
    reserved = sum(1_000 for value in ok if value.kind == "withdrawal_reserve")
    assert balances(funded_wallet) == {"cash": 0, "bonus": 0, "reserved": reserved, "debt": 0}
    assert_ledger_consistent(funded_wallet)


# --- wallets and adjustments ----------------------------------------------------------------------


def test_a_wallet_made_by_many_threads_at_once_is_made_once(brand):
    player = PlayerFactory(brand=brand)

    outcomes = run_together(
        [lambda: services.wallet_get_or_create(player=player, currency_code="GBP").pk for _ in range(16)]
    )

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert len({pk for _, pk in outcomes}) == 1
    assert Wallet.objects.filter(player=player).count() == 1
    assert HouseAccount.objects.filter(brand=brand, currency_id="GBP").count() == len(
        HouseAccount.Kind.values
    )


def test_an_adjustment_approved_and_rejected_by_many_people_at_once_is_decided_once(
    settings, make_wallet_staff, brand, funded_wallet
):
    settings.WALLET_ADJUSTMENT_FOUR_EYES_ABOVE = 10
    requester = make_wallet_staff("wallet.adjust_balance", brands=[brand])
    deciders = [make_wallet_staff("wallet.approve_adjustment", brands=[brand]) for _ in range(8)]
    adjustment = services.adjustment_request(
        actor=requester, wallet=funded_wallet, amount=5_000, reason="Refund"
    )
    assert adjustment.status == "pending"

    outcomes = run_together(
        [
            (lambda d=d: services.adjustment_approve(actor=d, adjustment=adjustment).status)
            if i % 2
            else (lambda d=d: services.adjustment_reject(actor=d, adjustment=adjustment, reason="no").status)
            for i, d in enumerate(deciders)
        ]
    )

    decided = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "error"]
    assert len(decided) == 1
    assert all(isinstance(e, AdjustmentRefused) and e.code == "not_pending" for e in refused), refused
    adjustment = AdjustmentRequest.objects.get(pk=adjustment.pk)
    assert adjustment.status == decided[0]
    expected_cash = 15_000 if adjustment.status == "applied" else 10_000
    assert balances(funded_wallet) == {"cash": expected_cash, "bonus": 0, "reserved": 0, "debt": 0}
    assert LedgerTransaction.objects.filter(kind="adjustment").count() == (adjustment.status == "applied")
    assert_ledger_consistent(funded_wallet)
