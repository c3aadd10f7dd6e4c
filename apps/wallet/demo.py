"""Demo wallets: every demo player gets a funded wallet (idempotent through the ledger keys)."""

import random

from apps.core.actors import system_actor
from apps.players.models import Player
from apps.wallet.services import bonus_grant, deposit_credit, wallet_get_or_create


def seed(context: dict) -> None:
    actor = system_actor("seed_demo")
    funded = 0
    for player in Player.objects.select_related("brand", "currency").order_by("pk"):
        r = random.Random(f"wallet-{player.pk}")
        wallet = wallet_get_or_create(player=player, currency_code=player.currency_id)
        if player.status in (Player.Status.SELF_EXCLUDED, Player.Status.CLOSED):
            continue  # the responsible-gaming guard refuses deposits to them, as it should
        exponent = player.currency.exponent
        amount = r.choice([20, 50, 100, 250, 500, 1000]) * 10**exponent
        result = deposit_credit(
            wallet=wallet,
            amount=amount,
            source="demo",
            external_id=f"deposit-{player.pk}",
            actor=actor,
            payment_ref=f"demo-{player.pk}",
        )
        funded += not result.replayed
        if r.random() < 0.3:
            bonus_grant(
                wallet=wallet,
                amount=amount // 2,
                source="demo",
                external_id=f"bonus-{player.pk}",
                actor=actor,
            )
    context["logins"].append(f"Demo wallets: {funded} newly funded.")
