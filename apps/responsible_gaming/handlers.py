"""Responsible gaming's subscriptions."""

from apps.core.events import subscribe
from apps.core.models import Event


@subscribe("players.player_registered")
def rg_default_limits_on_registration(event: Event) -> None:
    """The pack's default deposit limits (DE: 1,000 EUR a month), set at registration.
    Idempotent: limits the player already has are left alone."""
    from apps.players.models import Player
    from apps.responsible_gaming.services import default_limits_apply

    player = Player.objects.select_related("brand").filter(pk=event.payload["player_id"]).first()
    if player is not None:
        default_limits_apply(player=player)
