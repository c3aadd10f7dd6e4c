"""The games app's subscriptions: game rounds projected from the wallet's bets, wins and rollbacks.

They run in the outbox's delivery transaction, after the wallet's own transaction has
committed, so recording a round adds nothing to the bet's hot path. Idempotent by event id
(services.round_record), and deaf to movements no game provider made.
"""

from apps.core.events import subscribe
from apps.core.models import Event
from apps.games import services

KIND_OF_EVENT = {
    "wallet.bet_placed": "bet",
    "wallet.win_settled": "win",
    "wallet.transaction_rolled_back": "rollback",
}


@subscribe(*KIND_OF_EVENT, batch=True)
def games_round_on_wallet_movement(events: list[Event]) -> None:
    """A batch subscriber: most movements the relay hands over in one message are bets and
    wins, and one delivery statement for them all is most of the saving."""
    for event in events:
        _round_record(event)


def _round_record(event: Event) -> None:
    payload = event.payload
    metadata = payload.get("metadata") or {}
    provider = metadata.get("provider")
    round_ref = payload.get("round_ref")
    if not provider or not round_ref:
        return  # not game-provider traffic (a test, a manual movement): no round to keep
    services.round_record(
        event_id=event.pk,
        occurred_at=event.occurred_at,
        provider=provider,
        round_ref=round_ref,
        wallet_id=payload["wallet_id"],
        brand_id=payload["brand_id"],
        game_code=payload.get("game_ref") or "",
        kind=KIND_OF_EVENT[event.type],
        transaction_id=payload["transaction_id"],
        amount=payload["amount"],
        reversed_transaction_id=payload.get("reversed_transaction_id"),
        round_closed=bool(metadata.get("round_closed")),
    )


@subscribe("players.status_changed")
def games_sessions_close_on_player_stopped(event: Event) -> None:
    """A player who is no longer active (suspended, self-excluded, closed) loses every
    open game session at once. Idempotent: closing again closes nothing."""
    if event.payload.get("new_status") != "active":
        services.game_sessions_close_for_player(event.payload["player_id"])
