"""Game play on the timeline: one entry per closed round (and one per later correction),
none per bet or win; the rebuild from the outbox gives the same entries."""

import pytest

from apps.core.actors import provider_actor
from apps.core.models import Event
from apps.games.models import Game, Round
from apps.timeline.models import TimelineEntry
from apps.timeline.services import timeline_rebuild
from apps.wallet.services import (
    bet_place,
    deposit_credit,
    transaction_rollback,
    wallet_get_or_create,
    win_settle,
)
from tests.timeline.conftest import entries_of, entry_rows

HUB88 = provider_actor("hub88")
GAME_CODE = "clt_dragonrising"
pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet(alice, live):
    """Alice's GBP wallet with 100.00 in it, and the game in the catalogue."""
    Game.objects.create(provider="hub88", code=GAME_CODE, name="Dragon Rising")
    wallet = wallet_get_or_create(player=alice, currency_code="GBP")
    with live():
        deposit_credit(wallet=wallet, amount=10_000, source="test", external_id="d-1", actor=HUB88)
    return wallet


@pytest.fixture
def play(wallet, live):
    """play(kind, txn, ...): a movement as the Hub88 adapter makes it, delivered live."""

    def move(kind, txn, *, amount=0, ref="", round_ref="r-1", closed=False):
        fields = {
            "wallet": wallet,
            "source": "hub88",
            "external_id": txn,
            "actor": HUB88,
            "round_ref": round_ref,
            "game_ref": GAME_CODE,
            "metadata": {"provider": "hub88", "round_closed": closed, "request_uuid": f"req-{txn}"},
        }
        with live():
            if kind == "bet":
                return bet_place(amount=amount, **fields)
            if kind == "win":
                return win_settle(amount=amount, bet_external_id=ref, **fields)
            return transaction_rollback(target_external_id=ref, **fields)

    return move


def test_a_closed_round_is_one_game_entry_with_its_net(alice, brand, play):
    play("bet", "b-1", amount=500)
    play("win", "w-1", amount=150, ref="b-1", closed=True)

    game_round = Round.objects.get()
    event = Event.objects.get(type="games.round_closed")
    [entry] = entries_of(alice, category="game")
    assert entry.summary == f"Round {GAME_CODE} closed: bet 5.00 GBP, won 1.50"
    assert (entry.amount, entry.currency, entry.source_type, entry.source_id) == (
        -350,
        "GBP",
        "games.round",
        game_round.pk,
    )
    assert (entry.player_id, entry.brand_id, entry.event_id, entry.actor, entry.occurred_at) == (
        alice.pk,
        brand.pk,
        event.pk,
        "system:games",
        event.occurred_at,
    )
    # The bet and the win themselves make no entry
    assert [e.category for e in entries_of(alice)] == ["registration", "payment", "game"]


def test_an_open_round_makes_no_entry(alice, play):
    play("bet", "b-1", amount=500)

    assert entries_of(alice, category="game") == []


def test_a_late_rollback_adds_a_corrected_entry(alice, play):
    play("bet", "b-1", amount=500)
    play("win", "w-1", amount=150, ref="b-1", closed=True)

    play("rollback", "rb-1", ref="w-1")

    assert [(e.summary, e.amount) for e in entries_of(alice, category="game")] == [
        (f"Round {GAME_CODE} closed: bet 5.00 GBP, won 1.50", -350),
        (f"Round {GAME_CODE} corrected: bet 5.00 GBP, won 0.00 (1 rollback)", -500),
    ]


def test_rebuild_of_rounds_equals_the_live_timeline(alice, play):
    play("bet", "b-1", amount=500)
    play("win", "w-1", amount=2_500, ref="b-1", closed=True)
    play("bet", "b-2", amount=300, round_ref="r-2")
    play("rollback", "rb-2", ref="b-2", round_ref="r-2", closed=True)
    play("rollback", "rb-1", ref="w-1")
    live_rows = entry_rows()
    assert [row[5] for row in live_rows if row[4] == "game"] == [
        f"Round {GAME_CODE} closed: bet 5.00 GBP, won 25.00",
        f"Round {GAME_CODE} closed: bet 0.00 GBP, won 0.00 (1 rollback)",
        f"Round {GAME_CODE} corrected: bet 5.00 GBP, won 0.00 (1 rollback)",
    ]

    TimelineEntry.objects.all().delete()
    added = timeline_rebuild()

    assert added == len(live_rows)
    assert entry_rows() == live_rows
