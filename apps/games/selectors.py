"""Reads of the games domain; every staff list goes through one `*_visible_to` selector."""

import time

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


def game_get(*, provider: str, code) -> Game | None:
    """A game of the catalogue by its provider's code (for provider doors; no staff scoping)."""
    if not isinstance(code, str) or not code:
        return None
    return Game.objects.filter(provider=provider, code=code).first()


_products: dict[tuple[str, str], tuple[float, str | None]] = {}
PRODUCT_CACHE_SECONDS = 300.0


def game_product_get(*, provider: str, code: str) -> str | None:
    """The product ("casino", "live", ...) of a catalogue game, or None if unknown.

    On the wallet's bet path (stake caps), so it answers from an in-process cache: a
    game's product is set when it is added to the catalogue and practically never changes.
    """
    if not provider or not isinstance(code, str) or not code:
        return None
    key = (provider, code)
    now = time.monotonic()
    hit = _products.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    product = Game.objects.filter(provider=provider, code=code).values_list("product", flat=True).first()
    _products[key] = (now + PRODUCT_CACHE_SECONDS, product)
    return product


def game_product_cache_clear() -> None:
    _products.clear()
