"""games.round_closed and games.round_corrected: a round announced once when it closes, and
again, in full, when a later event changes its figures (apps/games/services.round_record)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from apps.core.models import Event, EventDelivery
from apps.core.outbox import event_dispatch
from apps.games.handlers import games_round_on_wallet_movement
from apps.games.models import Round
from apps.games.services import round_record
from apps.wallet.services import wallet_get_or_create
from tests.factories import BrandFactory, PlayerFactory
from tests.games.conftest import GAME_CODE

pytestmark = pytest.mark.django_db

ROUND_EVENTS = ("games.round_closed", "games.round_corrected")


@pytest.fixture
def played(hub88, django_capture_on_commit_callbacks):
    """played(endpoint, body): a Hub88 call whose events are then delivered (as after commit)."""

    def call(endpoint, body):
        with django_capture_on_commit_callbacks(execute=True):
            reply = hub88(endpoint, body)
        assert reply.status == "RS_OK", reply.body
        return reply

    return call


def round_events():
    return list(Event.objects.filter(type__in=ROUND_EVENTS).order_by("pk"))


def figures(event: Event) -> tuple:
    p = event.payload
    return (event.type, p["bet_total"], p["win_total"], p["rollbacks"])


def test_a_round_that_closes_is_announced_once_with_its_totals(played, movement, wallet, player):
    bet = movement("bet", amount=300_000, round="r-7")
    played("bet", bet)
    # An open round is not announced
    assert round_events() == []

    played(
        "win",
        movement("win", round="r-7", reference_transaction_uuid=bet["transaction_uuid"], round_closed=True),
    )

    game_round = Round.objects.get()
    [event] = round_events()
    assert (event.type, event.player_id, event.brand_id, event.actor) == (
        "games.round_closed",
        player.pk,
        wallet.brand_id,
        "system:games",
    )
    assert event.payload == {
        "round_id": game_round.pk,
        "player_id": player.pk,
        "brand_id": wallet.brand_id,
        "provider": "hub88",
        "round_ref": "r-7",
        "game_code": GAME_CODE,
        "currency": "EUR",
        "currency_exponent": 2,
        "bet_total": 300,
        "win_total": 250,
        "rollbacks": 0,
        "opened_at": game_round.opened_at.isoformat(),
        "closed_at": game_round.closed_at.isoformat(),
    }
    # The announcement itself was delivered (the timeline is among its subscribers)
    assert event.dispatched_at is not None


def test_a_redelivered_closing_event_announces_nothing_more(played, movement, wallet):
    bet = movement("bet")
    played("bet", bet)
    played("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"], round_closed=True))
    closing = Event.objects.get(type="wallet.win_settled")
    before = Round.objects.values().get()

    # At-least-once delivery: the handler gets the closing event again, and the
    # dispatcher is asked again
    games_round_on_wallet_movement([closing])
    assert event_dispatch(event_id=closing.pk, force=True) is True

    assert [figures(e) for e in round_events()] == [("games.round_closed", 100, 250, 0)]
    assert Round.objects.values().get() == before
    delivery = EventDelivery.objects.get(event=closing, handler__endswith="games_round_on_wallet_movement")
    assert (delivery.status, delivery.attempts) == ("done", 1)


def test_a_second_closing_event_does_not_close_the_round_again(played, movement, wallet):
    bet = movement("bet", amount=200_000)
    played("bet", bet)
    played(
        "win",
        movement("win", reference_transaction_uuid=bet["transaction_uuid"], amount=0, round_closed=True),
    )
    # Another zero win flagged round_closed: nothing about the round changes
    played(
        "win",
        movement("win", reference_transaction_uuid=bet["transaction_uuid"], amount=0, round_closed=True),
    )

    assert [figures(e) for e in round_events()] == [("games.round_closed", 200, 0, 0)]


def test_a_late_rollback_of_the_win_corrects_the_closed_round(played, movement, wallet):
    bet = movement("bet", amount=300_000)
    win = movement("win", reference_transaction_uuid=bet["transaction_uuid"], round_closed=True)
    played("bet", bet)
    played("win", win)

    # The provider takes the win back after the round closed
    played("rollback", movement("rollback", reference_transaction_uuid=win["transaction_uuid"]))

    game_round = Round.objects.get()
    assert (game_round.status, game_round.bet_total, game_round.win_total) == ("closed", 300, 0)
    assert [figures(e) for e in round_events()] == [
        ("games.round_closed", 300, 250, 0),
        ("games.round_corrected", 300, 0, 1),
    ]
    corrected = round_events()[1]
    assert corrected.payload["round_id"] == game_round.pk
    assert corrected.payload["closed_at"] == game_round.closed_at.isoformat()


def test_a_late_win_corrects_the_closed_round_once_however_often_delivered(played, movement, wallet):
    bet = movement("bet", amount=300_000)
    played("bet", bet)
    played(
        "win",
        movement("win", reference_transaction_uuid=bet["transaction_uuid"], amount=0, round_closed=True),
    )
    played("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"], amount=450_000))
    late_win = Event.objects.filter(type="wallet.win_settled").latest("pk")

    games_round_on_wallet_movement([late_win])
    assert event_dispatch(event_id=late_win.pk, force=True) is True

    assert [figures(e) for e in round_events()] == [
        ("games.round_closed", 300, 0, 0),
        ("games.round_corrected", 300, 450, 0),
    ]


def test_a_bet_delivered_after_its_closing_win_corrects_the_round(hub88, movement, wallet):
    # The bet's delivery failed and is retried after the closing win's
    bet = movement("bet", amount=300_000)
    hub88("bet", bet)
    hub88("win", movement("win", reference_transaction_uuid=bet["transaction_uuid"], round_closed=True))
    bet_event = Event.objects.get(type="wallet.bet_placed", payload__metadata__provider="hub88")
    win_event = Event.objects.get(type="wallet.win_settled")

    games_round_on_wallet_movement([win_event])
    games_round_on_wallet_movement([bet_event])

    assert [figures(e) for e in round_events()] == [
        ("games.round_closed", 0, 250, 0),
        ("games.round_corrected", 300, 250, 0),
    ]


THREADS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_closing_deliveries_racing_each_other_announce_the_round_once():
    # Eight deliveries of closing zero wins of one round at once: one of them closes it, the
    # others (locked out until then) find it closed, with figures unchanged
    brand = BrandFactory(code="race-rounds", jurisdiction="MT", currencies=["EUR"])
    wallet = wallet_get_or_create(player=PlayerFactory(brand=brand), currency_code="EUR")
    common = {"provider": "hub88", "round_ref": "raced", "wallet_id": wallet.pk, "brand_id": brand.pk}
    round_record(
        event_id=1,
        occurred_at=timezone.now(),
        game_code=GAME_CODE,
        kind="bet",
        transaction_id=1,
        amount=100,
        **common,
    )
    barrier = threading.Barrier(THREADS)
    errors = []

    def close(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            round_record(
                event_id=100 + i,
                occurred_at=timezone.now(),
                game_code=GAME_CODE,
                kind="win",
                transaction_id=100 + i,
                amount=0,
                round_closed=True,
                **common,
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=close, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    game_round = Round.objects.get()
    assert (game_round.status, game_round.bet_total, len(game_round.applied)) == ("closed", 100, 1 + THREADS)
    assert [figures(e) for e in round_events()] == [("games.round_closed", 100, 0, 0)]
