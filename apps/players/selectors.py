"""Reads of the players domain; every staff list of players goes through players_visible_to."""

from django.db.models import QuerySet
from django.utils import timezone

from apps.players.models import Player, PlayerToken
from apps.tenants.selectors import brands_visible_to


def players_visible_to(user) -> QuerySet[Player]:
    """Players of the brands this staff user may see."""
    return Player.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def player_get(*, user, player_id) -> Player | None:
    return players_visible_to(user).select_related("brand").filter(pk=player_id).first()


def player_by_token(key: str) -> Player | None:
    """The player a live (unexpired, unrevoked) API token belongs to."""
    token = (
        PlayerToken.objects.select_related("player", "player__brand")
        .filter(
            key_hash=PlayerToken.hash_key(key),
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    return token.player if token else None
