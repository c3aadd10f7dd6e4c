"""Game rounds, projected from the wallet's events after commit (apps/games/handlers.py)."""

import pytest

from apps.core.models import Event, EventDelivery
from apps.core.outbox import event_dispatch
from apps.games.handlers import games_round_on_wallet_movement
from apps.games.models import Round
from apps.wallet.models import LedgerTransaction
from tests.games.conftest import GAME_CODE

pytestmark = pytest.mark.django_db


@pytest.fixture
def played(hub88, django_capture_on_commit_callbacks):
    """played(endpoint, body): a Hub88 call whose events are then delivered (as after commit)."""

    def call(endpoint, body):
        with django_capture_on_commit_callbacks(execute=True):
            reply = hub88(endpoint, body)
        assert reply.status == "RS_OK", reply.body
        return reply

    return call


def test_bet_then_closing_win_make_one_closed_round(played, movement, wallet, game):
    bet = movement("bet", amount=300_000, round="r-7")
    played("bet", bet)
    # After the bet: an open round with the stake
    game_round = Round.objects.get()
    assert (game_round.provider, game_round.round_ref, game_round.wallet_id, game_round.brand_id) == (
        "hub88",
        "r-7",
        wallet.pk,
        wallet.brand_id,
    )
    assert (game_round.status, game_round.bet_total, game_round.win_total, game_round.game) == (
        "open",
        300,
        0,
        game,
    )
    assert game_round.closed_at is None
    # When the win closes the round
    played(
        "win",
        movement("win", round="r-7", reference_transaction_uuid=bet["transaction_uuid"], round_closed=True),
    )
    game_round.refresh_from_db()
    assert (game_round.status, game_round.bet_total, game_round.win_total) == ("closed", 300, 250)
    assert game_round.closed_at is not None
    assert len(game_round.applied) == 2


def test_a_rolled_back_bet_leaves_the_round_with_nothing_staked(played, movement, wallet):
    bet = movement("bet", amount=300_000)
    other_bet = movement("bet", amount=100_000)
    played("bet", bet)
    played("bet", other_bet)
    played(
        "rollback",
        movement("rollback", reference_transaction_uuid=bet["transaction_uuid"], round_closed=True),
    )
    game_round = Round.objects.get()
    assert (game_round.status, game_round.bet_total, game_round.win_total) == ("closed", 100, 0)


def test_rounds_are_per_wallet_and_round_ref(played, movement, wallet):
    played("bet", movement("bet", round="a"))
    played("bet", movement("bet", round="a"))
    played("bet", movement("bet", round="b"))
    assert sorted(Round.objects.values_list("round_ref", "bet_total")) == [("a", 200), ("b", 100)]


def test_a_redelivered_event_changes_nothing(played, movement, wallet):
    played("bet", movement("bet"))
    event = Event.objects.get(type="wallet.bet_placed", payload__metadata__provider="hub88")
    before = Round.objects.values().get()
    # When the handler gets the same event again (at-least-once delivery), and the
    # dispatcher is asked again
    games_round_on_wallet_movement([event])
    assert event_dispatch(event_id=event.pk, force=True) is True
    # Then the round is as it was
    assert Round.objects.values().get() == before
    delivery = EventDelivery.objects.get(event=event, handler__endswith="games_round_on_wallet_movement")
    assert (delivery.status, delivery.attempts) == ("done", 1)


def test_events_delivered_out_of_order_end_in_the_same_round(hub88, movement, wallet):
    # The bet's delivery failed and is retried after its rollback's
    bet = movement("bet", amount=300_000)
    hub88("bet", bet)
    hub88("rollback", movement("rollback", reference_transaction_uuid=bet["transaction_uuid"]))
    bet_event = Event.objects.get(type="wallet.bet_placed", payload__metadata__provider="hub88")
    rollback_event = Event.objects.get(type="wallet.transaction_rolled_back")
    games_round_on_wallet_movement([rollback_event])
    games_round_on_wallet_movement([bet_event])
    game_round = Round.objects.get()
    assert (game_round.bet_total, game_round.win_total, game_round.status) == (0, 0, "open")


def test_a_rollback_before_its_bet_records_the_round_without_money(played, movement, wallet, hub88):
    bet = movement("bet")
    played("rollback", movement("rollback", reference_transaction_uuid=bet["transaction_uuid"]))
    assert hub88("bet", bet).status == "RS_ERROR_TRANSACTION_ROLLED_BACK"
    game_round = Round.objects.get()
    assert (game_round.bet_total, game_round.win_total, len(game_round.applied)) == (0, 0, 1)


def test_movements_of_no_game_provider_make_no_round(wallet, django_capture_on_commit_callbacks):
    from apps.core.actors import system_actor
    from apps.wallet.services import bet_place

    with django_capture_on_commit_callbacks(execute=True):
        bet_place(
            wallet=wallet,
            amount=100,
            source="test",
            external_id="plain-bet",
            actor=system_actor("test"),
            round_ref="r-1",
            game_ref=GAME_CODE,
        )
    assert Round.objects.count() == 0
    event = Event.objects.get(type="wallet.bet_placed")
    games = EventDelivery.objects.get(event=event, handler__startswith="apps.games.")
    assert games.status == "done"


def test_a_zero_win_closes_a_lost_round(played, movement, wallet):
    # Hub88 closes a lost round with a win of 0
    bet = movement("bet", amount=200_000)
    played("bet", bet)
    reply = played(
        "win",
        movement("win", reference_transaction_uuid=bet["transaction_uuid"], amount=0, round_closed=True),
    )
    assert reply.body["balance"] == 10_000_000 - 200_000
    win = LedgerTransaction.objects.get(kind="win", wallet=wallet)
    assert (win.amount, win.entries.count()) == (0, 0)
    game_round = Round.objects.get()
    assert (game_round.status, game_round.bet_total, game_round.win_total) == ("closed", 200, 0)
