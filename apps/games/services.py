"""Writes of the games domain: game sessions and the rounds projected from wallet events.

Money is not moved here: bets, wins and rollbacks go through apps.wallet.services, and
provider adapters (providers/hub88) call those directly. This module opens and closes
the sessions the adapters check, and keeps the Round projection the handlers feed.
"""

import functools
import secrets
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connection, models, transaction
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.events import publish
from apps.core.models import Currency
from apps.games.events import GameSessionOpened, GameSessionsClosed, RoundClosed, RoundCorrected
from apps.games.exceptions import GameUnavailable, PlayerNotActive, SessionRefused
from apps.games.models import Game, GameSession, Round
from apps.players.models import Player
from apps.tenants.models import Brand
from apps.wallet.exceptions import InvalidAmount
from apps.wallet.models import Wallet
from apps.wallet.services import wallet_get_or_create

ROUND_KINDS = ("bet", "win", "rollback")


# --- sessions ---------------------------------------------------------------------------


def game_session_open(
    *, player: Player, game: Game, currency_code: str, actor, ttl: timedelta
) -> tuple[GameSession, str]:
    """Open a session of `game` for `player`, playing from their wallet in `currency_code`.

    Returns the session and its token; the token is not stored (only its SHA-256) and
    cannot be shown again. Refuses an inactive game (GameUnavailable), a player who is
    not active or a closed brand (PlayerNotActive) and a currency the brand does not
    offer (SessionRefused). Makes the wallet on first use. Publishes games.session_opened.
    """
    if not game.active:
        raise GameUnavailable(f"{game} is not active.")
    if ttl <= timedelta(0):
        raise SessionRefused("A session must last some time.", code="ttl_invalid")
    # The status as committed now, not as the caller's copy of the player says. (A
    # suspension racing this is caught by the bet, which checks the status again.)
    current = Player.objects.select_related("brand").get(pk=player.pk)
    if current.status != Player.Status.ACTIVE or not current.brand.active:
        raise PlayerNotActive(f"Player {player.pk} is {current.status}.")
    try:
        wallet = wallet_get_or_create(player=current, currency_code=currency_code)
    except InvalidAmount as exc:
        raise SessionRefused(exc.message, code="currency_not_offered") from exc
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        session = GameSession.objects.create(
            player_id=player.pk,
            brand_id=current.brand_id,
            wallet=wallet,
            game=game,
            token_hash=GameSession.hash_token(token),
            created_at=now,
            expires_at=now + ttl,
        )
        publish(
            GameSessionOpened(
                session_id=session.pk,
                player_id=player.pk,
                brand_id=current.brand_id,
                provider=game.provider,
                game_code=game.code,
                currency=wallet.currency_id,
                expires_at=session.expires_at.isoformat(),
            ),
            actor=actor,
        )
    return session, token


def game_session_by_token(token) -> GameSession | None:
    """The session a token was issued for, live or not (callers decide what expiry means).

    With its player (status), brand (active), wallet (with its currency) and game loaded by
    one narrow query: this runs on every provider call, and the ORM's five-table
    select_related cost more to compile than the query costs to run. The related objects
    carry only the columns named here; any other field is loaded on first access.
    """
    if not isinstance(token, str) or not token:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_session_by_token_sql(), [GameSession.hash_token(token)])
        row = cursor.fetchone()
    if row is None:
        return None
    values = iter(row)
    session = GameSession.from_db(
        DEFAULT_DB_ALIAS, _session_fields(), _converted([next(values) for _ in _session_fields()])
    )
    session.player = Player.from_db(
        DEFAULT_DB_ALIAS, ["id", "brand_id", "status"], [session.player_id, session.brand_id, next(values)]
    )
    session.brand = Brand.from_db(DEFAULT_DB_ALIAS, ["id", "active"], [session.brand_id, next(values)])
    wallet = Wallet.from_db(
        DEFAULT_DB_ALIAS,
        ["id", "player_id", "brand_id", "currency_id"],
        [session.wallet_id, next(values), next(values), next(values)],
    )
    wallet.currency = Currency.from_db(
        DEFAULT_DB_ALIAS, ["code", "exponent"], [wallet.currency_id, next(values)]
    )
    session.wallet = wallet
    session.game = Game.from_db(
        DEFAULT_DB_ALIAS,
        ["id", "provider", "code", "product", "active"],
        [session.game_id, next(values), next(values), next(values), next(values)],
    )
    return session


def _converted(values: list) -> list:
    """The session's columns as the ORM would give them. A raw query skips the backend's
    converters: PostgreSQL's driver returns aware datetimes anyway, SQLite (`make run`)
    returns text, which `is_live` cannot compare with now."""
    if connection.vendor == "postgresql":
        return values
    fields = GameSession._meta.concrete_fields
    return [
        connection.ops.convert_datetimefield_value(value, None, connection)
        if isinstance(field, models.DateTimeField)
        else value
        for field, value in zip(fields, values, strict=True)
    ]


@functools.cache
def _session_fields() -> list[str]:
    return [field.attname for field in GameSession._meta.concrete_fields]


@functools.cache
def _session_by_token_sql() -> str:
    columns = ", ".join(f"s.{name}" for name in _session_fields())
    return (
        f"SELECT {columns}, p.status, b.active, w.player_id, w.brand_id, w.currency_id, c.exponent,"  # noqa: S608
        " g.provider, g.code, g.product, g.active"
        f" FROM {GameSession._meta.db_table} s"
        f" JOIN {Player._meta.db_table} p ON p.id = s.player_id"
        f" JOIN {Brand._meta.db_table} b ON b.id = s.brand_id"
        f" JOIN {Wallet._meta.db_table} w ON w.id = s.wallet_id"
        f" JOIN {Currency._meta.db_table} c ON c.code = w.currency_id"
        f" JOIN {Game._meta.db_table} g ON g.id = s.game_id"
        " WHERE s.token_hash = %s"
    )


def game_sessions_close_for_player(player_id: int, *, actor=None) -> int:
    """End every open session of the player now (exclusion, suspension); returns how many.

    Closed sessions take no new bets; wins and rollbacks of their rounds are still paid.
    Idempotent: closing again closes nothing more and publishes nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            GameSession.objects.select_for_update()
            .filter(player_id=player_id, closed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        GameSession.objects.filter(pk__in=ids).update(closed_at=now)
        brand_id = Player.objects.filter(pk=player_id).values_list("brand_id", flat=True).first()
        publish(
            GameSessionsClosed(player_id=player_id, brand_id=brand_id, session_ids=ids),
            actor=actor or system_actor("games"),
        )
    return len(ids)


# --- rounds -----------------------------------------------------------------------------


def round_record(
    *,
    event_id: int,
    occurred_at: datetime,
    provider: str,
    round_ref: str,
    wallet_id: int,
    brand_id: int,
    game_code: str,
    kind: str,
    transaction_id: int,
    amount: int,
    reversed_transaction_id: int | None = None,
    round_closed: bool = False,
) -> Round:
    """Apply one wallet movement (announced by event `event_id`) to its round.

    Idempotent by event id and independent of the order events arrive in: the round
    keeps what each event announced and recomputes its totals from all of them, so a
    rollback delivered before its bet still ends up cancelling it. Locks the round row,
    so concurrent deliveries of one round's events queue instead of losing an update.
    A round, once closed, stays closed.

    Publishes games.round_closed (once: only the delivery that moves the round from open
    to closed) and, when a later event changes a closed round's totals or rollback count
    (a late rollback or win, a bet delivered after the close), games.round_corrected with
    the round's new figures. A repeated event returns before any of this: it publishes
    nothing.
    """
    if kind not in ROUND_KINDS:
        raise ValueError(f"not a round movement: {kind}")
    with transaction.atomic():
        created_round, _ = Round.objects.get_or_create(
            provider=provider,
            round_ref=round_ref,
            wallet_id=wallet_id,
            defaults={"brand_id": brand_id, "opened_at": occurred_at},
        )
        game_round = Round.objects.select_for_update().get(pk=created_round.pk)
        key = str(event_id)
        if key in game_round.applied:
            return game_round
        was_closed = game_round.status == Round.Status.CLOSED
        figures_before = _round_figures(game_round)
        game_round.applied[key] = [kind, transaction_id, amount, reversed_transaction_id]
        game_round.bet_total, game_round.win_total = _round_totals(game_round.applied)
        game_round.opened_at = min(game_round.opened_at, occurred_at)
        if round_closed and game_round.status == Round.Status.OPEN:
            game_round.status = Round.Status.CLOSED
            game_round.closed_at = occurred_at
        if game_round.game_id is None and game_code:
            game_round.game = Game.objects.filter(provider=provider, code=game_code).first()
        game_round.save()
        if game_round.status == Round.Status.CLOSED and not was_closed:
            _round_announce(RoundClosed, game_round, game_code=game_code)
        elif was_closed and _round_figures(game_round) != figures_before:
            _round_announce(RoundCorrected, game_round, game_code=game_code)
    return game_round


def _round_figures(game_round: Round) -> tuple[int, int, int]:
    """What a round's announcement tells: (bets, wins, rollbacks)."""
    rollbacks = sum(1 for kind, *_rest in game_round.applied.values() if kind == "rollback")
    return game_round.bet_total, game_round.win_total, rollbacks


def _round_announce(event_class: type[RoundClosed], game_round: Round, *, game_code: str) -> None:
    """Publish the round's closing (or correction), in the caller's transaction. The player
    and currency are the wallet's: a round is kept per wallet, and a wallet never changes
    hands or currency."""
    player_id, currency, exponent = Wallet.objects.values_list(
        "player_id", "currency_id", "currency__exponent"
    ).get(pk=game_round.wallet_id)
    bet_total, win_total, rollbacks = _round_figures(game_round)
    publish(
        event_class(
            round_id=game_round.pk,
            player_id=player_id,
            brand_id=game_round.brand_id,
            provider=game_round.provider,
            round_ref=game_round.round_ref,
            # The catalogue's code when the game is known; else what the provider sent.
            game_code=game_round.game.code if game_round.game_id else game_code,
            currency=currency,
            currency_exponent=exponent,
            bet_total=bet_total,
            win_total=win_total,
            rollbacks=rollbacks,
            opened_at=game_round.opened_at.isoformat(),
            closed_at=game_round.closed_at.isoformat(),
        ),
        actor=system_actor("games"),
    )


def _round_totals(applied: dict) -> tuple[int, int]:
    """(bets, wins) of the round, each without the transactions a rollback undid."""
    undone = {reversed_id for kind, _txn, _amount, reversed_id in applied.values() if kind == "rollback"}
    totals = {"bet": 0, "win": 0}
    for kind, txn, amount, _reversed in applied.values():
        if kind in totals and txn not in undone:
            totals[kind] += amount
    return totals["bet"], totals["win"]
