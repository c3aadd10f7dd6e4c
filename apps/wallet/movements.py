"""How each kind of movement changes a wallet's buckets, as SQL over the old row.

A movement is a conditional UPDATE of one wallet row: SET expressions read only the old
values (`o.cash`, ...), and the WHERE condition refuses what would break a rule (not
enough money). The database applies it atomically under the row lock, so concurrent
movements of one wallet queue on that row and never lose an update; there is nothing
to retry. The ledger entries are derived afterwards from the old and new values, so a
movement cannot disagree with its entries.
"""

import functools
from dataclasses import dataclass

BUCKETS = ("cash", "bonus", "reserved", "debt")
# The economic sign of each bucket in the ledger: debt is what the player owes.
ENTRY_SIGN = {"cash": 1, "bonus": 1, "reserved": 1, "debt": -1}


@dataclass(frozen=True, eq=False)  # hashed by identity: update_sql caches per movement
class Movement:
    """SET expressions (bucket -> SQL over o.*) and the condition that must hold."""

    name: str
    sets: dict[str, str]
    condition: str = "TRUE"


# Parameters: %(a)s the amount; %(cash)s/%(bonus)s/%(debt)s the parts reversed by a rollback.
_REPAY_DEBT_THEN_CASH = {
    "debt": "o.debt - LEAST(o.debt, %(a)s)",
    "cash": "o.cash + %(a)s - LEAST(o.debt, %(a)s)",
}

MOVEMENTS = {
    m.name: m
    for m in (
        # Bets spend cash first, then bonus.
        Movement(
            "debit_playable",
            {
                "cash": "o.cash - LEAST(o.cash, %(a)s)",
                "bonus": "o.bonus - (%(a)s - LEAST(o.cash, %(a)s))",
            },
            "o.cash + o.bonus >= %(a)s",
        ),
        # Wins, deposits and staff credits repay debt before they become cash.
        Movement("credit_cash", _REPAY_DEBT_THEN_CASH),
        Movement("debit_cash", {"cash": "o.cash - %(a)s"}, "o.cash >= %(a)s"),
        Movement("reserve", {"cash": "o.cash - %(a)s", "reserved": "o.reserved + %(a)s"}, "o.cash >= %(a)s"),
        Movement(
            "release",
            {"reserved": "o.reserved - %(a)s", **_REPAY_DEBT_THEN_CASH},
            "o.reserved >= %(a)s",
        ),
        Movement("settle", {"reserved": "o.reserved - %(a)s"}, "o.reserved >= %(a)s"),
        # A debit the player cannot refuse (a rolled-back win, a provider's settled
        # payment): what cash cannot cover becomes debt, never a negative balance.
        Movement(
            "forced_debit",
            {
                "cash": "o.cash - LEAST(o.cash, %(a)s)",
                "debt": "o.debt + (%(a)s - LEAST(o.cash, %(a)s))",
            },
        ),
        # Undo a bet: give back exactly the cash and bonus parts it took.
        Movement("refund", {"cash": "o.cash + %(cash)s", "bonus": "o.bonus + %(bonus)s"}),
        # Undo a win: take back its cash part (forced) and restore the debt it repaid.
        Movement(
            "unwin",
            {
                "cash": "o.cash - LEAST(o.cash, %(cash)s)",
                "debt": "o.debt + %(debt)s + (%(cash)s - LEAST(o.cash, %(cash)s))",
            },
        ),
        Movement("credit_bonus", {"bonus": "o.bonus + %(a)s"}),
        Movement("forfeit_bonus", {"bonus": "o.bonus - LEAST(o.bonus, %(a)s)"}),
        Movement("convert_bonus", {"bonus": "o.bonus - %(a)s", "cash": "o.cash + %(a)s"}, "o.bonus >= %(a)s"),
    )
}


@functools.cache
def update_sql(movement: Movement, *, vendor: str) -> str:
    """The UPDATE for one movement; on PostgreSQL it also returns the old values.

    PostgreSQL: one statement. The FOR UPDATE subquery takes the row lock and exposes the
    old row to RETURNING, so old and new come back together.
    SQLite (the embedded default) cannot return the old row from an UPDATE; the caller
    reads it first in the same transaction (SQLite has one writer at a time).
    """
    sets = ", ".join(f"{bucket} = {expr}" for bucket, expr in movement.sets.items())
    new = ", ".join(f"wallet_wallet.{b}" for b in BUCKETS)
    if vendor == "postgresql":
        old = ", ".join(f"o.{b}" for b in BUCKETS)
        return (
            f"UPDATE wallet_wallet SET {sets}, version = o.version + 1 "
            f"FROM (SELECT id, {', '.join(BUCKETS)}, version FROM wallet_wallet "
            f"WHERE id = %(wallet)s FOR UPDATE) o "
            f"WHERE wallet_wallet.id = o.id AND ({movement.condition}) "
            f"RETURNING {old}, {new}"
        )
    sql = (
        f"UPDATE wallet_wallet SET {sets}, version = o.version + 1 "
        f"FROM (SELECT id, {', '.join(BUCKETS)}, version FROM wallet_wallet WHERE id = %(wallet)s) o "
        f"WHERE wallet_wallet.id = o.id AND ({movement.condition}) "
        f"RETURNING {new}"
    )
    return sql.replace("LEAST(", "MIN(")  # SQLite's two-argument MIN is LEAST


@functools.cache
def post_sql(movement: Movement) -> str:
    """PostgreSQL: the movement, its entries and its outbox event in ONE statement.

    The wallet row is locked from this statement until COMMIT, so everything that can be
    done before it (claim, guards, building the event) is, and nothing is left between it
    and the commit: a hot wallet queues only for this statement and the commit.

    `u` is the conditional UPDATE (no row: refused, and nothing else is written); the
    entries are the bucket changes, and the house account (%(house_kind)s, NULL for an
    internal movement) takes the opposite of their sum; the event's payload gets the new
    balances. Returns the old and new buckets and the event's id.
    """
    update = update_sql(movement, vendor="postgresql")
    old = ", ".join(f"o.{b} AS old_{b}" for b in BUCKETS)
    new = ", ".join(f"wallet_wallet.{b} AS new_{b}" for b in BUCKETS)
    update = update.replace(update[update.index("RETURNING") :], f"RETURNING {old}, {new}")
    deltas = {b: f"{ENTRY_SIGN[b]} * (u.new_{b} - u.old_{b})" for b in BUCKETS}
    wallet_rows = ", ".join(f"(%(wallet)s::bigint, '{b}', NULL::bigint, {deltas[b]})" for b in BUCKETS)
    total = " + ".join(f"({d})" for d in deltas.values())
    balances = ", ".join(f"'{b}', u.new_{b}" for b in BUCKETS)
    return (
        f"WITH u AS ({update}), "
        "e AS (INSERT INTO wallet_ledgerentry (transaction_id, wallet_id, bucket, house_account_id, amount)"
        " SELECT %(txn)s, x.wallet_id, x.bucket, x.house, x.amount FROM u CROSS JOIN LATERAL (VALUES"
        f" {wallet_rows}, (NULL::bigint, '', (SELECT h.id FROM wallet_houseaccount h WHERE h.brand_id ="
        " %(brand)s AND h.currency_id = %(currency)s AND h.kind = %(house_kind)s), -(" + total + ")))"
        " AS x (wallet_id, bucket, house, amount) WHERE x.amount <> 0), "
        "ev AS (INSERT INTO core_event (type, brand_id, player_id, payload, occurred_at, correlation_id,"
        f" actor) SELECT %(ev_type)s, %(brand)s, %(ev_player)s, %(ev_payload)s::jsonb || jsonb_build_object("
        f"{balances}), %(ev_at)s, %(ev_cid)s, %(ev_actor)s FROM u RETURNING id) "
        f"SELECT {', '.join(f'u.old_{b}' for b in BUCKETS)}, {', '.join(f'u.new_{b}' for b in BUCKETS)},"
        " (SELECT id FROM ev) FROM u"
    )
