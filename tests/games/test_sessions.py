"""Game sessions: opened for active players and games, tokens stored only as hashes."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.models import Event
from apps.games.exceptions import GameUnavailable, PlayerNotActive, SessionRefused
from apps.games.models import Game, GameSession
from apps.games.services import game_session_by_token, game_session_open, game_sessions_close_for_player
from apps.players.models import Player
from apps.wallet.models import Wallet

pytestmark = pytest.mark.django_db

ACTOR = system_actor("test")


def _open(player, game, currency="EUR", ttl=timedelta(minutes=30)):
    return game_session_open(player=player, game=game, currency_code=currency, actor=ACTOR, ttl=ttl)


def test_opening_a_session_stores_only_the_tokens_hash(player, game):
    before = timezone.now()
    session, token = _open(player, game)
    session.refresh_from_db()
    assert len(token) >= 40
    assert session.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(GameSession.objects.filter(pk=session.pk).values().get())
    assert (session.player, session.brand_id, session.game, session.wallet.currency_id) == (
        player,
        player.brand_id,
        game,
        "EUR",
    )
    assert session.closed_at is None
    assert before + timedelta(minutes=30) <= session.expires_at <= timezone.now() + timedelta(minutes=30)
    event = Event.objects.get(type="games.session_opened")
    assert event.payload == {
        "session_id": session.pk,
        "player_id": player.pk,
        "brand_id": player.brand_id,
        "provider": "hub88",
        "game_code": game.code,
        "currency": "EUR",
        "expires_at": session.expires_at.isoformat(),
    }
    assert event.actor == "system:test"


def test_the_token_finds_its_session_and_nothing_else_does(player, game):
    session, token = _open(player, game)
    assert game_session_by_token(token) == session
    assert game_session_by_token(token + "x") is None
    assert game_session_by_token(session.token_hash) is None
    assert game_session_by_token("") is None
    assert game_session_by_token(None) is None
    assert game_session_by_token(12345) is None


def test_an_expired_session_is_still_found_but_not_live(player, game):
    session, token = _open(player, game)
    GameSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    found = game_session_by_token(token)
    assert found == session
    assert found.is_live() is False


def test_the_first_session_in_a_currency_makes_the_wallet(player, game):
    assert Wallet.objects.filter(player=player).count() == 0
    session, _token = _open(player, game, currency="BTC")
    assert Wallet.objects.get(player=player, currency="BTC") == session.wallet


@pytest.mark.parametrize("status", ["suspended", "self_excluded", "closed"])
def test_a_player_who_is_not_active_gets_no_session(player, game, status):
    Player.objects.filter(pk=player.pk).update(status=status)
    with pytest.raises(PlayerNotActive):
        _open(player, game)
    assert GameSession.objects.count() == 0
    assert Wallet.objects.filter(player=player).count() == 0
    assert Event.objects.filter(type="games.session_opened").count() == 0


def test_an_inactive_game_gets_no_session(player, game):
    Game.objects.filter(pk=game.pk).update(active=False)
    game.refresh_from_db()
    with pytest.raises(GameUnavailable):
        _open(player, game)
    assert GameSession.objects.count() == 0
    assert Wallet.objects.filter(player=player).count() == 0


def test_a_currency_the_brand_does_not_offer_gets_no_session(player, game):
    with pytest.raises(SessionRefused) as refused:
        _open(player, game, currency="SEK")
    assert refused.value.code == "currency_not_offered"
    assert GameSession.objects.count() == 0
    assert Wallet.objects.filter(player=player).count() == 0


def test_a_session_must_last_some_time(player, game):
    with pytest.raises(SessionRefused):
        _open(player, game, ttl=timedelta(0))
    assert GameSession.objects.count() == 0


def test_closing_a_players_sessions_closes_the_open_ones_once(player, game, hub88_brand):
    from tests.factories import PlayerFactory

    first, _ = _open(player, game)
    second, _ = _open(player, game)
    someone_else, _ = _open(PlayerFactory(brand=hub88_brand), game)
    assert game_sessions_close_for_player(player.pk) == 2
    assert game_sessions_close_for_player(player.pk) == 0
    closed = dict(GameSession.objects.values_list("pk", "closed_at"))
    assert closed[first.pk] is not None and closed[second.pk] is not None
    assert closed[someone_else.pk] is None
    event = Event.objects.get(type="games.sessions_closed")
    assert event.payload == {
        "player_id": player.pk,
        "brand_id": player.brand_id,
        "session_ids": [first.pk, second.pk],
    }
