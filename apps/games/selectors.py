"""Reads of the games domain; every staff list goes through one `*_visible_to` selector."""

import threading

from cachetools import TTLCache, cached
from django.db.models import QuerySet

from apps.games.models import Game, GameSession, Round
from apps.tenants.selectors import brands_visible_to


def games_visible_to(user) -> QuerySet[Game]:
    """The catalogue is platform-wide: every working staff member sees all of it."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return Game.objects.none()
    return Game.objects.all()


def sessions_visible_to(user) -> QuerySet[GameSession]:
    """Game sessions of the brands this staff user may see."""
    return GameSession.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def rounds_visible_to(user) -> QuerySet[Round]:
    """Game rounds of the brands this staff user may see."""
    return Round.objects.filter(brand__in=brands_visible_to(user).values("pk"))


# Provider doors look a game up on every bet; the catalogue changes rarely. Entries live a
# few seconds per process (a change made in this process clears them at once, see apps.py),
# so a game switched off in the admin stops taking bets within CATALOGUE_TTL_SECONDS.
CATALOGUE_TTL_SECONDS = 5
_games: TTLCache = TTLCache(maxsize=4096, ttl=CATALOGUE_TTL_SECONDS)
_games_lock = threading.Lock()


def game_get(*, provider: str, code) -> Game | None:
    """A game of the catalogue by its provider's code (for provider doors; no staff scoping).

    The returned instance may be shared with other threads: read it, never change it."""
    if not isinstance(code, str) or not code or len(code) > 128:
        return None
    return _game_cached(provider, code)


@cached(_games, lock=_games_lock)
def _game_cached(provider: str, code: str) -> Game | None:
    return Game.objects.filter(provider=provider, code=code).first()


def catalogue_cache_clear(**_) -> None:
    with _games_lock:
        _games.clear()


def game_product_get(*, provider: str, code: str) -> str | None:
    """The product ("casino", "live", ...) of a catalogue game, or None if unknown.

    On the wallet's bet path (stake caps): answered from the catalogue cache above."""
    if not provider:
        return None
    game = game_get(provider=provider, code=code)
    return game.product if game is not None else None
