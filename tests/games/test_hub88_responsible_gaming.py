"""Hub88 bets meet responsible gaming through HTTP: exclusions answer RS_ERROR_USER_DISABLED,
limits RS_ERROR_LIMIT_REACHED, and the refusal is recorded once the request is over."""

import pytest

from apps.responsible_gaming import services
from apps.responsible_gaming.models import Refusal
from tests.games.conftest import STARTING_CASH, cash_of, money_state

pytestmark = pytest.mark.django_db


def test_a_self_excluded_player_cannot_bet(hub88, movement, player, wallet):
    services.self_exclusion_start(actor=player, player=player, months=6)
    before = money_state(wallet)

    reply = hub88("bet", movement("bet"))

    assert reply.status == "RS_ERROR_USER_DISABLED"
    assert reply.signed
    assert money_state(wallet) == before
    refusal = Refusal.objects.get(player=player)
    assert (refusal.action, refusal.code, refusal.source) == ("bet", "self_excluded", "hub88")


def test_a_timed_out_player_cannot_bet_but_a_win_is_paid(hub88, movement, player, wallet):
    bet = movement("bet")
    assert hub88("bet", bet).status == "RS_OK"
    services.timeout_start(actor=player, player=player, hours=24)

    assert hub88("bet", movement("bet")).status == "RS_ERROR_USER_DISABLED"
    win = movement("win", reference_transaction_uuid=bet["transaction_uuid"])
    assert hub88("win", win).status == "RS_OK"
    assert cash_of(wallet) == STARTING_CASH - 100 + 250


def test_a_bet_over_the_loss_limit_is_limit_reached(hub88, movement, player, wallet):
    services.limit_set(actor=player, player=player, kind="loss", period="day", amount=150)

    assert hub88("bet", movement("bet")).status == "RS_OK"  # 1.00 EUR lost today
    reply = hub88("bet", movement("bet"))

    assert reply.status == "RS_ERROR_LIMIT_REACHED"
    assert reply.body["balance"] == (STARTING_CASH - 100) * 1000
    assert cash_of(wallet) == STARTING_CASH - 100
