"""What the database says about wallets, read with plain SQL, never through the services.

The wallet tests judge the services by these reads: the wallet row, the entries of each
transaction, the house side, the events and the counts of rows, so that a service that
answers one thing and writes another is caught.
"""

from django.db import connection

from apps.core.models import Event
from apps.wallet.models import AdjustmentRequest, LedgerEntry, LedgerTransaction, Wallet
from apps.wallet.movements import BUCKETS, ENTRY_SIGN


def balances(wallet_or_id) -> dict[str, int]:
    """The wallet row's four buckets, straight from the table."""
    wallet_id = getattr(wallet_or_id, "pk", wallet_or_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT cash, bonus, reserved, debt FROM wallet_wallet WHERE id = %s", [wallet_id])
        row = cursor.fetchone()
    return dict(zip(BUCKETS, row, strict=True))


def version(wallet_or_id) -> int:
    wallet_id = getattr(wallet_or_id, "pk", wallet_or_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM wallet_wallet WHERE id = %s", [wallet_id])
        return cursor.fetchone()[0]


def entries(transaction_id) -> dict[str, int]:
    """A transaction's entries: {"cash": -500, "house:games": 500, ...} (sides summed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.bucket, h.kind, e.amount FROM wallet_ledgerentry e"
            " LEFT JOIN wallet_houseaccount h ON h.id = e.house_account_id"
            " WHERE e.transaction_id = %s",
            [transaction_id],
        )
        rows = cursor.fetchall()
    sides: dict[str, int] = {}
    for bucket, house_kind, amount in rows:
        side = bucket if bucket else f"house:{house_kind}"
        sides[side] = sides.get(side, 0) + amount
    return sides


def bucket_sums_from_entries(wallet_or_id) -> dict[str, int]:
    """Each bucket as its entries say (debt with ENTRY_SIGN -1)."""
    wallet_id = getattr(wallet_or_id, "pk", wallet_or_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bucket, COALESCE(SUM(amount), 0) FROM wallet_ledgerentry WHERE wallet_id = %s"
            " GROUP BY bucket",
            [wallet_id],
        )
        sums = dict(cursor.fetchall())
    return {bucket: ENTRY_SIGN[bucket] * int(sums.get(bucket, 0)) for bucket in BUCKETS}


def unbalanced_transactions(*wallets_or_ids) -> list[tuple[int, int]]:
    """(transaction id, sum of its entries) for every transaction of the wallets not summing to zero."""
    wallet_ids = [getattr(wallet, "pk", wallet) for wallet in wallets_or_ids]
    marks = ", ".join(["%s"] * len(wallet_ids))  # IN, not = ANY: SQLite has no arrays
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.id, SUM(e.amount) FROM wallet_ledgertransaction t"  # noqa: S608 - placeholders only
            " JOIN wallet_ledgerentry e ON e.transaction_id = t.id"
            f" WHERE t.wallet_id IN ({marks}) GROUP BY t.id HAVING SUM(e.amount) <> 0",
            wallet_ids,
        )
        return cursor.fetchall()


def assert_ledger_consistent(wallet_or_id) -> None:
    """The wallet row equals its entries per bucket, and every transaction sums to zero."""
    assert balances(wallet_or_id) == bucket_sums_from_entries(wallet_or_id)
    assert unbalanced_transactions(wallet_or_id) == []


def house_balance(brand_id: int, currency: str, kind: str) -> int:
    """A house account's balance: the sum of its entries (it has no balance column)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(e.amount), 0) FROM wallet_ledgerentry e"
            " JOIN wallet_houseaccount h ON h.id = e.house_account_id"
            " WHERE h.brand_id = %s AND h.currency_id = %s AND h.kind = %s",
            [brand_id, currency, kind],
        )
        return int(cursor.fetchone()[0])


def snapshot() -> dict:
    """Everything a refused request must leave untouched: row counts and every wallet row."""
    return {
        "transactions": LedgerTransaction.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "events": Event.objects.count(),
        "adjustments": sorted(AdjustmentRequest.objects.values_list("pk", "status", "transaction_id")),
        "wallets": sorted(Wallet.objects.values_list("pk", "cash", "bonus", "reserved", "debt", "version")),
    }


def wallet_events(wallet, event_type: str | None = None) -> list[Event]:
    """The wallet.* events about this wallet's player, oldest first."""
    events = Event.objects.filter(player_id=wallet.player_id, type__startswith="wallet.")
    if event_type is not None:
        events = events.filter(type=event_type)
    return list(events.order_by("pk"))


def transaction_row(source: str, external_id: str) -> LedgerTransaction | None:
    return LedgerTransaction.objects.filter(source=source, external_id=external_id).first()
