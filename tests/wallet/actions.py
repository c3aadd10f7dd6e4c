"""Short calls of the wallet services with the defaults the tests share (sources, actors)."""

from apps.core.actors import provider_actor, system_actor
from apps.wallet import services

PROVIDER = provider_actor("hub88")
PSP = system_actor("payments")
GAME = "hub88"  # the source (idempotency namespace) of game transactions
PAYMENTS = "paymentiq"
BONUSES = "bonus-engine"


def bet(wallet, amount, external_id, *, round_ref="r-1", game_ref="g-1", **kwargs):
    return services.bet_place(
        wallet=wallet,
        amount=amount,
        source=GAME,
        external_id=external_id,
        actor=PROVIDER,
        round_ref=round_ref,
        game_ref=game_ref,
        **kwargs,
    )


def win(wallet, amount, external_id, bet_external_id, *, round_ref="r-1", game_ref="g-1", **kwargs):
    return services.win_settle(
        wallet=wallet,
        amount=amount,
        source=GAME,
        external_id=external_id,
        bet_external_id=bet_external_id,
        actor=PROVIDER,
        round_ref=round_ref,
        game_ref=game_ref,
        **kwargs,
    )


def rollback(wallet, external_id, target_external_id, *, round_ref="r-1", game_ref="g-1", **kwargs):
    return services.transaction_rollback(
        wallet=wallet,
        source=GAME,
        external_id=external_id,
        target_external_id=target_external_id,
        actor=PROVIDER,
        round_ref=round_ref,
        game_ref=game_ref,
        **kwargs,
    )


def deposit(wallet, amount, external_id, **kwargs):
    return services.deposit_credit(
        wallet=wallet, amount=amount, source=PAYMENTS, external_id=external_id, actor=PSP, **kwargs
    )


def pay(service, wallet, amount, external_id, **kwargs):
    """Any payments service (deposit, withdrawal reserve/release/settle)."""
    return service(
        wallet=wallet, amount=amount, source=PAYMENTS, external_id=external_id, actor=PSP, **kwargs
    )


def bonus(service, wallet, amount, external_id):
    """Any bonus service (grant, forfeit, convert)."""
    return service(wallet=wallet, amount=amount, source=BONUSES, external_id=external_id, actor=PSP)
