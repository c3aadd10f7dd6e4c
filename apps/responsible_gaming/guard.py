"""The wallet guard: limits, time-outs, self-exclusions and stake caps, inside the wallet's transaction.

Cost on the bet path: kinds that cannot break a rule (withdrawals, bonus forfeits, ...)
return at once. Every other movement reads ONE row by primary key (the player joined to
their GuardState); a player without limits or exclusion stops there, unless the brand's
pack caps the stake of the game's product (rules and game products come from in-process
caches). A player with money limits adds one upsert per limit period:

    INSERT ... ON CONFLICT (player, kind, period, period_start, currency)
    DO UPDATE SET total = t.total + excluded.total WHERE t.total + excluded.total <= limit

which the database applies under the total row's lock, re-checking the condition on the
newest row, so concurrent movements queue on it and the total can never pass the limit
(the wallet's own no-lost-update pattern). A refusal raises a GuardRefusal, which rolls
back the whole movement, the running totals included.

Exactness when limits are set: totals are kept only while a limit of their kind exists,
so setting one starts them from the ledger. The guard takes a shared, transaction-scoped
advisory lock on the player (compatible with every other movement, so movements do not
queue on it); services that change what is tracked take it exclusively (guard_lock), so
they wait for movements in flight to commit and count them from the ledger, and movements
arriving meanwhile wait and then see the new state.
"""

import json
import logging
from datetime import date
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from apps.core import hotpath
from apps.core.guards import WalletOperation
from apps.responsible_gaming import refusals
from apps.responsible_gaming.exceptions import LimitReached, PlayerBlocked
from apps.responsible_gaming.periods import window_of

logger = logging.getLogger(__name__)

# The advisory-lock namespaces (first key of the two-key form).
LOCK_STATE = 4_201
LOCK_ROLLING = 4_202

_GUARDED_KINDS = frozenset({"deposit", "bet", "win", "rollback", "bonus_grant"})
_PLAY_STATUSES_REFUSED = {"self_excluded": "self_excluded", "closed": "account_closed"}


def _lock_key(player_id: int) -> int:
    return player_id % 2_147_483_647


def guard_lock(player_id: int) -> None:
    """Take the player's guard lock exclusively (services that change limits or exclusions)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_STATE, _lock_key(player_id)])


_STATE_SQL = (
    "SELECT p.date_of_birth, p.status,"
    " CASE WHEN s.blocked_code <> '' AND (s.blocked_until IS NULL OR s.blocked_until > %(now)s)"
    " THEN s.blocked_code ELSE '' END,"
    " s.limits{lock}"
    " FROM players_player p LEFT JOIN responsible_gaming_guardstate s ON s.player_id = p.id"
    " WHERE p.id = %(player)s"
)


_STATE_SQL_PLAIN = _STATE_SQL.format(lock="")
_STATE_SQL_TRY_SHARED = _STATE_SQL.format(lock=", pg_try_advisory_xact_lock_shared(%(ns)s, %(key)s)")
_STATE_SQL_LOCKED = _STATE_SQL.format(lock=", TRUE")


def _state_read(player_id: int, now) -> tuple | None:
    params = {"now": connection.ops.adapt_datetimefield_value(now), "player": player_id}
    if connection.vendor != "postgresql":  # SQLite: one writer at a time, nothing to lock
        return hotpath.fetchone(_STATE_SQL_PLAIN, params)
    params.update(ns=LOCK_STATE, key=_lock_key(player_id))
    row = hotpath.fetchone(_STATE_SQL_TRY_SHARED, params)
    if row is None or row[4]:
        return row
    # A limit or exclusion of this player is being changed: wait for it, then read anew
    # (a new statement, so a new snapshot that sees what it committed).
    hotpath.fetchone("SELECT pg_advisory_xact_lock_shared(%(ns)s, %(key)s)", params)
    return hotpath.fetchone(_STATE_SQL_LOCKED, params)


def _refuse(op: WalletOperation, error_class, code: str, message: str, **detail):
    refusals.note(
        refusals.RefusalNote(
            player_id=op.player_id,
            brand_id=op.brand_id,
            action=op.kind,
            code=code,
            amount=op.amount,
            currency=op.currency,
            source=op.source,
            game_ref=op.game_ref,
            detail={k: v for k, v in detail.items() if isinstance(v, str | int | bool | type(None))},
        )
    )
    raise error_class(message, code=code, **detail)


def rg_wallet_guard(op: WalletOperation) -> None:
    """Registered in ResponsibleGamingConfig.ready(); see the module docstring."""
    if op.kind not in _GUARDED_KINDS:
        return
    if op.kind == "rollback" and not op.reverses_kind:
        return
    now = op.occurred_at or timezone.now()
    row = _state_read(op.player_id, now)
    if row is None:
        return
    born, status, blocked_code, limits = row[0], row[1], row[2], row[3]
    paying_in = op.kind in ("deposit", "bet", "bonus_grant")
    if paying_in:
        if status in _PLAY_STATUSES_REFUSED:
            code = _PLAY_STATUSES_REFUSED[status]
            _refuse(
                op, PlayerBlocked, code, f"The account is {status.replace('_', '-')}.", rule="players.status"
            )
        if blocked_code:
            what = "timed out" if blocked_code == "timed_out" else "self-excluded"
            _refuse(
                op, PlayerBlocked, blocked_code, f"The player is {what}.", rule="responsible_gaming.exclusion"
            )
    if op.kind == "bet" and op.amount > 0:
        _stake_cap_check(op, born, now)
    if isinstance(limits, str):
        limits = json.loads(limits)
    if limits and op.amount:
        _totals_track(op, limits, now)


# --- stake caps -------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _exponent(currency: str) -> int:
    from apps.core.models import Currency

    return Currency.objects.values_list("exponent", flat=True).get(code=currency)


def _age(born, today: date) -> int:
    if isinstance(born, str):
        born = date.fromisoformat(born[:10])
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def stake_cap_for(rules, product: str | None, born, now) -> tuple[str, Decimal, str] | None:
    """(currency, max stake in major units, rule path) for this product and player, or None."""
    if product is None:
        return None
    cap = (rules.get("stake_caps") or {}).get(product)
    if not cap:
        return None
    maximum, path = Decimal(cap["max"]), f"stake_caps.{product}.max"
    age = _age(born, timezone.localtime(now, ZoneInfo(rules.get("timezone"))).date())
    for i, band in enumerate(cap.get("age_bands") or ()):
        if band["min_age"] <= age <= band["max_age"] and Decimal(band["max"]) < maximum:
            maximum, path = Decimal(band["max"]), f"stake_caps.{product}.age_bands.{i}.max"
    return cap["currency"], maximum, path


def _stake_cap_check(op: WalletOperation, born, now) -> None:
    from apps.compliance.selectors import rules_for_brand
    from apps.games.selectors import game_product_get

    rules = rules_for_brand(op.brand_id)
    if not rules.get("stake_caps"):
        return
    cap = stake_cap_for(rules, game_product_get(provider=op.source, code=op.game_ref), born, now)
    if cap is None:
        return
    currency, maximum, path = cap
    rule = f"{rules.source_of(path)}: {path}"
    if currency != op.currency:
        # No exchange rates here: a capped product played in another currency is refused.
        _refuse(op, LimitReached, "stake_cap", f"Stakes on this game are capped in {currency}.", rule=rule)
    limit = int(maximum * 10 ** _exponent(currency))
    if op.amount > limit:
        _refuse(
            op,
            LimitReached,
            "stake_cap",
            f"The maximum stake on this game is {maximum} {currency}.",
            rule=rule,
            limit=limit,
        )


# --- running totals ----------------------------------------------------------------------

# What each movement adds to each kind of total (sign), and whether that addition is checked.
_EFFECTS = {
    "deposit": (("deposit", 1, True),),
    "bet": (("wager", 1, True), ("loss", 1, True)),
    "win": (("loss", -1, False),),
    ("rollback", "bet"): (("wager", -1, False), ("loss", -1, False)),
    ("rollback", "win"): (("loss", 1, False),),
}

_UPSERT = (
    "INSERT INTO responsible_gaming_runningtotal AS t"
    " (player_id, kind, period, span, period_start, period_end, currency, total)"
    " VALUES (%(player)s, %(kind)s, %(period)s, %(span)s, %(start)s, %(end)s, %(currency)s, %(x)s)"
    " ON CONFLICT (player_id, kind, period, period_start, currency)"
    " DO UPDATE SET total = t.total + excluded.total{condition} RETURNING total"
)
_CALENDAR_CONDITION = " WHERE t.total + excluded.total <= %(limit)s"
_ROLLING_CONDITION = (
    " WHERE t.total + excluded.total + (SELECT COALESCE(SUM(o.total), 0)"
    " FROM responsible_gaming_runningtotal o WHERE o.player_id = %(player)s AND o.kind = %(kind)s"
    " AND o.period = %(period)s AND o.currency = %(currency)s"
    " AND o.period_start >= %(window_start)s AND o.period_start < %(start)s) <= %(limit)s"
)
_ENSURE_ROW = (
    "INSERT INTO responsible_gaming_runningtotal"
    " (player_id, kind, period, span, period_start, period_end, currency, total)"
    " VALUES (%(player)s, %(kind)s, %(period)s, %(span)s, %(start)s, %(end)s, %(currency)s, 0)"
    " ON CONFLICT (player_id, kind, period, period_start, currency) DO NOTHING"
)


def _totals_track(op: WalletOperation, limits: dict, now) -> None:
    key = op.kind if op.kind != "rollback" else (op.kind, op.reverses_kind)
    effects = _EFFECTS.get(key)
    if not effects:
        return
    tracked = [(kind, sign, checked) for kind, sign, checked in effects if limits.get(kind)]
    if not tracked:
        return
    if limits.get("currency") and op.currency != limits["currency"]:
        if any(checked for _, _, checked in tracked):
            _refuse(
                op,
                LimitReached,
                "limit_currency",
                f"The player's limits are in {limits['currency']}; {op.currency} cannot count against them.",
                rule="responsible_gaming.limits",
            )
        return
    span, tz = limits.get("span", "calendar"), limits.get("tz", "UTC")
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for kind, sign, checked in tracked:
            for period, limit in sorted(limits[kind].items()):
                window = window_of(period, now, window=span, tz=tz)
                params = {
                    "player": op.player_id,
                    "kind": kind,
                    "period": period,
                    "span": span,
                    "start": adapt(window.start),
                    "end": adapt(window.end),
                    "window_start": adapt(window.window_start),
                    "currency": op.currency,
                    "x": sign * op.amount,
                    "limit": limit,
                }
                if not checked:
                    cursor.execute(_UPSERT.format(condition=""), params)
                    continue
                if span == "rolling":
                    if connection.vendor == "postgresql":
                        cursor.execute(
                            "SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_ROLLING, _lock_key(op.player_id)]
                        )
                    cursor.execute(_ENSURE_ROW, params)
                    cursor.execute(_UPSERT.format(condition=_ROLLING_CONDITION), {**params, "x": op.amount})
                    accepted = cursor.fetchone() is not None
                else:
                    if op.amount > limit:
                        # Only a negative total (a loss limit after wins) could take it; the
                        # first movement of a period must not create a row above the limit.
                        cursor.execute(_ENSURE_ROW, params)
                    cursor.execute(_UPSERT.format(condition=_CALENDAR_CONDITION), params)
                    accepted = cursor.fetchone() is not None
                if not accepted:
                    _refuse(
                        op,
                        LimitReached,
                        f"{kind}_limit",
                        f"This would exceed the player's {kind} limit per {period}.",
                        rule=f"responsible_gaming.limit.{kind}.{period}",
                        limit=limit,
                        period=period,
                    )
