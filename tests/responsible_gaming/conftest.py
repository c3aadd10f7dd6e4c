"""Players on GB, SE and DE brands with funded wallets, and one-line money movements."""

import itertools
from datetime import date

import pytest

from apps.core.actors import system_actor
from apps.games.models import Game
from apps.wallet import services as wallet
from tests.factories import BrandFactory, PlayerFactory

ACTOR = system_actor("test")
_keys = itertools.count(1)


@pytest.fixture
def slot(db):
    return Game.objects.create(provider="hub88", code="rg_slot", name="RG Slot", product="casino")


@pytest.fixture
def gb_brand(operator):
    return BrandFactory(operator=operator, code="rg-gb", jurisdiction="GB", currencies=["GBP"])


@pytest.fixture
def se_brand(operator):
    return BrandFactory(operator=operator, code="rg-se", jurisdiction="SE", currencies=["SEK"])


@pytest.fixture
def de_brand(operator):
    return BrandFactory(operator=operator, code="rg-de", jurisdiction="DE", currencies=["EUR"])


@pytest.fixture
def gb_player(gb_brand):
    return PlayerFactory(brand=gb_brand, date_of_birth=date(1980, 1, 1))


@pytest.fixture
def se_player(se_brand):
    return PlayerFactory(brand=se_brand, date_of_birth=date(1980, 1, 1))


@pytest.fixture
def de_player(de_brand):
    return PlayerFactory(brand=de_brand, date_of_birth=date(1980, 1, 1))


def wallet_of(player):
    return wallet.wallet_get_or_create(player=player, currency_code=player.currency_id)


def deposit(player, amount: int):
    return wallet.deposit_credit(
        wallet=wallet_of(player), amount=amount, source="test", external_id=f"dep-{next(_keys)}", actor=ACTOR
    )


def bet(player, amount: int, *, game_ref: str = "", key: str | None = None):
    return wallet.bet_place(
        wallet=wallet_of(player),
        amount=amount,
        source="hub88",
        external_id=key or f"bet-{next(_keys)}",
        actor=ACTOR,
        round_ref="r1",
        game_ref=game_ref,
    )


def win(player, amount: int, *, bet_key: str):
    return wallet.win_settle(
        wallet=wallet_of(player),
        amount=amount,
        source="hub88",
        external_id=f"win-{next(_keys)}",
        bet_external_id=bet_key,
        actor=ACTOR,
        round_ref="r1",
    )


def rollback(player, target_key: str):
    return wallet.transaction_rollback(
        wallet=wallet_of(player),
        source="hub88",
        external_id=f"rb-{next(_keys)}",
        target_external_id=target_key,
        actor=ACTOR,
    )
