"""Demo responsible gaming: limits, pending increases, a time-out and self-exclusions, so that
the compliance officer's pages have something to show. Idempotent (skipped once any limit exists)."""

from apps.players.models import Player
from apps.responsible_gaming import services
from apps.responsible_gaming.models import Limit


def seed(context: dict) -> None:
    if Limit.objects.exists():
        return
    officer = context["staff"]["compliance"]
    done = 0
    for brand in context["brands"].values():
        players = list(Player.objects.filter(brand=brand, status=Player.Status.ACTIVE).order_by("pk")[:8])
        if len(players) < 8:
            continue
        unit = 10 ** players[0].currency.exponent
        for player in players[:5]:
            for period, amount in (("day", 100), ("week", 500), ("month", 1_500)):
                services.limit_set(
                    actor=player, player=player, kind="deposit", period=period, amount=amount * unit
                )
        # Two players asked for more: the increases wait for the pack's cooling-off.
        for player in players[:2]:
            services.limit_set(actor=player, player=player, kind="deposit", period="day", amount=300 * unit)
        services.limit_set(
            actor=officer if brand.code != "nordicplay-se" else players[2],
            player=players[2],
            kind="loss",
            period="week",
            amount=200 * unit,
            reason="Demo: affordability concern raised by support",
        )
        services.timeout_start(actor=players[5], player=players[5], hours=72)
        services.self_exclusion_start(actor=players[6], player=players[6], months=6)
        services.self_exclusion_start(actor=players[7], player=players[7], months=None, all_brands=True)
        services.reality_check_set(actor=players[3], player=players[3], minutes=30)
        done += 1
    context["logins"].append(f"Responsible gaming: demo limits and exclusions on {done} brand(s).")
