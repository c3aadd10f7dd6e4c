"""What each Hub88 wallet call does, once its signature is verified: checks, then one service call.

All money logic is the wallet's (apps.wallet.services), all session and game logic the
games app's; this module only checks the call against the session it names and
translates units and errors.

Checks, in order, on every call that names a token: the session exists and `user` is its
player (else RS_ERROR_INVALID_TOKEN); `currency` is its wallet's (RS_ERROR_WRONG_CURRENCY).
Bets and balance requests also need an open brand (RS_ERROR_INVALID_PARTNER: Hub88's
"sub-partner disabled"), a live session (RS_ERROR_TOKEN_EXPIRED), an active player
(RS_ERROR_USER_DISABLED) and the session's game or, in a live-casino lobby, another
live game (RS_ERROR_INVALID_GAME). Wins and rollbacks are not checked for expiry, player
status or game state: they settle what was already staked and must always go through.
"""

from dataclasses import dataclass, field

from apps.core.actors import provider_actor
from apps.games.models import Game, GameSession
from apps.games.providers.hub88.protocol import Refusal, Status, amount_to_minor
from apps.games.selectors import game_get
from apps.players.models import Player
from apps.wallet import services as wallet_services
from apps.wallet.models import Wallet
from apps.wallet.selectors import wallet_for

PROVIDER = "hub88"
# The idempotency source of every Hub88 ledger transaction; Hub88's transaction_uuid is the id.
SOURCE = "hub88"
ACTOR = provider_actor(PROVIDER)


@dataclass
class Call:
    """One verified call: its checked fields, and what has been resolved so far."""

    endpoint: str
    fields: dict
    session: GameSession | None = None
    player: Player | None = None
    # Set once the caller is known to own it; error answers then carry its balance.
    wallet: Wallet | None = None
    notes: dict = field(default_factory=dict)

    @property
    def exponent(self) -> int:
        return self.wallet.currency.exponent


def info(call: Call) -> int:
    """The player's balance in their own currency (0 before their first game)."""
    player = call.player
    wallet = wallet_for(player=player, currency_code=player.currency_id)
    call.notes["currency"] = player.currency_id
    if wallet is not None:
        call.wallet = wallet
    if not player.brand.active:
        raise Refusal(Status.INVALID_PARTNER, "the brand is closed")
    if player.status != Player.Status.ACTIVE:
        raise Refusal(Status.USER_DISABLED, f"player is {player.status}")
    return playable(wallet.pk) if wallet else 0


def balance(call: Call) -> int:
    session = _session_of_caller(call)
    _may_play(session)
    if call.fields["game_code"] is not None:
        _game_for_play(call.fields["game_code"], session)
    return playable(session.wallet_id)


def bet(call: Call) -> int:
    session = _session_of_caller(call)
    _may_play(session)
    game = _game_for_play(call.fields["game_code"], session)
    amount = amount_to_minor(call.fields["amount"], currency_exponent=call.exponent)
    metadata = _metadata(call)
    if call.fields["is_free"]:
        # A free bet is the provider's (or a reward's) stake: record it, take nothing.
        metadata.update(is_free=True, nominal_amount=amount)
        amount = 0
    result = wallet_services.bet_place(
        wallet=session.wallet,
        amount=amount,
        source=SOURCE,
        external_id=call.fields["transaction_uuid"],
        actor=ACTOR,
        round_ref=call.fields["round"],
        game_ref=game.code,
        metadata=metadata,
    )
    return result.playable


def win(call: Call) -> int:
    session = _session_of_caller(call)
    game = _known_game(call.fields["game_code"])
    amount = amount_to_minor(call.fields["amount"], currency_exponent=call.exponent)
    result = wallet_services.win_settle(
        wallet=session.wallet,
        amount=amount,
        source=SOURCE,
        external_id=call.fields["transaction_uuid"],
        bet_external_id=call.fields["reference_transaction_uuid"],
        actor=ACTOR,
        round_ref=call.fields["round"],
        game_ref=game.code,
        metadata=_metadata(call),
    )
    return result.playable


def rollback(call: Call) -> int:
    """Undo the referenced bet or win; unknown ones get a tombstone (the wallet's), RS_OK.

    The game code is not checked: a rollback must go through whatever became of the game.
    """
    session = _session_of_caller(call)
    result = wallet_services.transaction_rollback(
        wallet=session.wallet,
        source=SOURCE,
        external_id=call.fields["transaction_uuid"],
        target_external_id=call.fields["reference_transaction_uuid"],
        actor=ACTOR,
        round_ref=call.fields["round"],
        game_ref=call.fields["game_code"],
        metadata=_metadata(call),
    )
    return result.playable


OPERATIONS = {"info": info, "balance": balance, "bet": bet, "win": win, "rollback": rollback}


# --- checks -----------------------------------------------------------------------------


def _session_of_caller(call: Call) -> GameSession:
    session = call.session
    if session is None:
        raise Refusal(Status.INVALID_TOKEN, "unknown token")
    user = call.fields.get("user")
    if user is not None and user != str(session.player_id):
        raise Refusal(Status.INVALID_TOKEN, "the token belongs to another user")
    call.wallet = session.wallet
    currency = call.fields.get("currency")
    if currency is not None and currency != session.wallet.currency_id:
        raise Refusal(Status.WRONG_CURRENCY, f"the session plays in {session.wallet.currency_id}")
    return session


def _may_play(session: GameSession) -> None:
    if not session.brand.active:
        raise Refusal(Status.INVALID_PARTNER, "the brand is closed")
    if not session.is_live():
        raise Refusal(Status.TOKEN_EXPIRED, "the session has expired or was closed")
    if session.player.status != Player.Status.ACTIVE:
        raise Refusal(Status.USER_DISABLED, f"player is {session.player.status}")


def _known_game(game_code: str) -> Game:
    game = game_get(provider=PROVIDER, code=game_code)
    if game is None:
        raise Refusal(Status.INVALID_GAME, "unknown game")
    return game


def _game_for_play(game_code: str, session: GameSession) -> Game:
    """The game of a new bet: the session's, or another live game from the same live lobby.

    (Hub88: in live-dealer lobbies the player switches tables within one session and the
    game_code changes with them.)
    """
    game = _known_game(game_code)
    if not game.active:
        raise Refusal(Status.INVALID_GAME, "the game is not active")
    if game.pk != session.game_id and not (
        game.product == Game.Product.LIVE and session.game.product == Game.Product.LIVE
    ):
        raise Refusal(Status.INVALID_GAME, "the session was opened for another game")
    return game


# --- values -----------------------------------------------------------------------------


def _metadata(call: Call) -> dict:
    return {
        "provider": PROVIDER,
        "round_closed": bool(call.fields["round_closed"]),
        "request_uuid": call.fields["request_uuid"],
    }


def playable(wallet_id: int) -> int:
    """Cash plus bonus: what the player can stake (bets spend cash first, then bonus).

    (A read of the wallet row; it belongs in apps.wallet.selectors as a balance selector.)
    """
    cash, bonus = Wallet.objects.filter(pk=wallet_id).values_list("cash", "bonus").get()
    return cash + bonus
