"""Operations counters: exact sums per brand and minute from real wallet events, pushed as a
few snapshots (not one message per bet), the last increments of a burst included."""

import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction

from apps.core.actors import system_actor
from apps.core.events import publish
from apps.dashboards import counters
from apps.exclusions.events import RegisterChecked
from apps.wallet.services import bet_place, deposit_credit, transaction_rollback, win_settle
from tests.dashboards.conftest import connected, socket

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

GAME = system_actor("dashboards-test-game")


def totals(snapshot: dict, currency: str) -> dict:
    data = snapshot["data"]
    out = {"n": {m: sum(minute["n"][m] for minute in data["minutes"]) for m in counters.METRICS}}
    for metric in ("dep", "wd", "bet", "win", "ggr"):
        out[metric] = sum(minute["amounts"].get(currency, {}).get(metric, 0) for minute in data["minutes"])
    out["active"] = data["active_players"]
    return out


def burst(brand, wallet):
    """20 bets of 1.00, 5 wins of 0.50, one bet rolled back, 3 deposits of 10.00, and a
    register check that failed: each its own transaction, as in production."""
    k = f"{brand.code}-"
    for n in range(20):
        bet_place(wallet=wallet, amount=100, source="game", external_id=f"{k}bet-{n}", actor=GAME)
    for n in range(5):
        win_settle(
            wallet=wallet,
            amount=50,
            source="game",
            external_id=f"{k}win-{n}",
            bet_external_id=f"{k}bet-{n}",
            actor=GAME,
        )
    transaction_rollback(
        wallet=wallet, source="game", external_id=f"{k}rb-19", target_external_id=f"{k}bet-19", actor=GAME
    )
    for n in range(3):
        deposit_credit(wallet=wallet, amount=1_000, source="test", external_id=f"{k}dep-{n}", actor=GAME)
    with transaction.atomic():
        publish(
            RegisterChecked(
                check_id=1,
                brand_id=brand.pk,
                player_id=None,
                register="gamstop",
                purpose="login",
                outcome="error",
            ),
            actor=GAME,
        )


def test_counters_are_exact_and_pushed_as_a_few_snapshots(make_staff, brand, other_brand, funded_player):
    officer = make_staff("Compliance officer", brands=[brand])
    player, wallet = funded_player(brand)  # its funding deposit counts too: 1,000.00
    other_player, other_wallet = funded_player(other_brand)

    async def run():
        communicator = await database_sync_to_async(socket)("streams=ops", officer)
        await connected(communicator)
        first = await communicator.receive_json_from(timeout=3)
        assert first["type"] == "ops.snapshot" and first["brand_id"] == brand.pk
        assert totals(first, "GBP")["dep"] == 100_000

        started = time.monotonic()
        await database_sync_to_async(burst)(brand, wallet)
        await database_sync_to_async(burst)(other_brand, other_wallet)  # another brand's: never seen here
        burst_done = time.monotonic()

        snapshots = []
        expected = {
            "n": {"dep": 4, "wd": 0, "bet": 20, "win": 5, "rcf": 1},
            "dep": 103_000,
            "wd": 0,
            "bet": 1_900,
            "win": 250,
            "ggr": 1_650,
            "active": 1,
        }
        while True:
            message = await communicator.receive_json_from(timeout=3)
            assert message["brand_id"] == brand.pk
            snapshots.append(message)
            if totals(message, "GBP") == expected:
                break
        arrived = time.monotonic()
        await communicator.disconnect()
        return snapshots, started, burst_done, arrived

    snapshots, started, burst_done, arrived = async_to_sync(run)()
    # The trailing edge: the last increments reach the page within about a tick.
    assert arrived - burst_done < 2.5
    # 30 counted events (plus the other brand's 30): a snapshot per tick, not a message each.
    assert len(snapshots) <= (arrived - started) / 1.0 + 2


def test_the_memory_store_of_the_embedded_default_counts_the_same(settings):
    store = counters.MemoryCounters()
    now = time.time()
    store.add(brand_id=7, at=now, fields={"n:bet": 1, "a:bet:EUR": 250}, player_id=1)
    store.add(brand_id=7, at=now, fields={"n:win": 1, "a:win:EUR": 100}, player_id=2)
    store.add(brand_id=7, at=now, fields={"a:bet:EUR": -50}, player_id=1)
    store.add(brand_id=8, at=now, fields={"n:bet": 1, "a:bet:EUR": 999}, player_id=3)
    assert store.dirty_take() == {7, 8}
    assert store.dirty_take() == set()
    snapshot = store.snapshot(7, now=now)
    last = snapshot["minutes"][-1]
    assert last["n"]["bet"] == 1 and last["n"]["win"] == 1
    assert last["amounts"]["EUR"] == {"dep": 0, "wd": 0, "bet": 200, "win": 100, "ggr": 100}
    assert snapshot["active_players"] == 2
    assert len(snapshot["minutes"]) == counters.WINDOW_MINUTES
    # A push slot per brand about once a second.
    assert store.push_claim(7) is True
    assert store.push_claim(7) is False
    assert store.push_claim(8) is True
