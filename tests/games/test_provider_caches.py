"""The provider doors keep games and integrations for a few seconds per process. A change
saved in this process takes effect on the very next call; a change made elsewhere (another
process, a bare UPDATE) within the TTL."""

import pytest

from apps.games.models import Game
from apps.games.providers.hub88.selectors import INTEGRATION_TTL_SECONDS, hub88_integration_for_brand
from apps.games.selectors import CATALOGUE_TTL_SECONDS, catalogue_cache_clear, game_get
from tests.games.conftest import GAME_CODE

pytestmark = pytest.mark.django_db


def test_the_caches_are_short_lived():
    assert 0 < CATALOGUE_TTL_SECONDS <= 10
    assert 0 < INTEGRATION_TTL_SECONDS <= 10


def test_a_game_switched_off_here_refuses_the_next_bet(hub88, movement, game):
    assert hub88("bet", movement("bet")).status == "RS_OK"  # the game is now cached

    game.active = False
    game.save()

    assert hub88("bet", movement("bet")).status == "RS_ERROR_INVALID_GAME"


def test_a_change_made_elsewhere_is_served_from_the_cache_until_it_expires(game):
    assert game_get(provider="hub88", code=GAME_CODE).active is True
    Game.objects.filter(pk=game.pk).update(active=False)  # as another process would: no signal here

    assert game_get(provider="hub88", code=GAME_CODE).active is True  # still the cached row
    catalogue_cache_clear()  # what the TTL does
    assert game_get(provider="hub88", code=GAME_CODE).active is False


def test_a_new_hub88_key_saved_here_is_used_for_the_next_call(hub88, movement, integration, keys):
    assert hub88("bet", movement("bet")).status == "RS_OK"  # the integration is now cached

    integration.hub88_public_key = keys.operator_public  # not the key Hub88 signs with
    integration.save()

    assert hub88("bet", movement("bet")).status == "RS_ERROR_INVALID_SIGNATURE"
    assert hub88_integration_for_brand(integration.brand_id).hub88_public_key == keys.operator_public


def test_a_game_added_here_is_known_at_once(game):
    assert game_get(provider="hub88", code="clt_new") is None  # now cached as unknown

    Game.objects.create(provider="hub88", code="clt_new", name="New", product=game.product)

    assert game_get(provider="hub88", code="clt_new").code == "clt_new"
