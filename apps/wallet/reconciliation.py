"""Reconciliation: the ledger proves the balances, or says where it does not.

Checks that every wallet bucket equals the sum of its entries (debt with the ledger's
sign) and that every transaction's entries sum to zero. Mismatches are stored, shown in
the admin and published as events. Reads run in one REPEATABLE READ snapshot on
PostgreSQL, so a movement committing mid-run cannot look like a mismatch.
"""

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from apps.core.actors import actor_label
from apps.core.events import publish
from apps.wallet.events import ReconciliationMismatchFound
from apps.wallet.models import (
    LedgerEntry,
    LedgerTransaction,
    ReconciliationMismatch,
    ReconciliationRun,
    Wallet,
)
from apps.wallet.movements import BUCKETS, ENTRY_SIGN

WALLET_BATCH = 2000


def reconciliation_run(*, actor) -> ReconciliationRun:
    """Check every wallet and every transaction since the last run; returns the run."""
    previous = ReconciliationRun.objects.filter(finished_at__isnull=False).aggregate(
        m=Max("last_transaction_id")
    )
    since = previous["m"] or 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        run = ReconciliationRun.objects.create(actor=actor_label(actor), last_transaction_id=since)
        found: list[ReconciliationMismatch] = []
        run.wallets_checked = _check_wallets(run, found)
        run.transactions_checked, run.last_transaction_id = _check_transactions(run, found, since)
        ReconciliationMismatch.objects.bulk_create(found)
        for mismatch in found:
            publish(
                ReconciliationMismatchFound(
                    run_id=run.pk,
                    brand_id=mismatch.brand_id,
                    kind=mismatch.kind,
                    wallet_id=mismatch.wallet_id,
                    transaction_id=mismatch.transaction_id,
                    expected=mismatch.expected,
                    actual=mismatch.actual,
                ),
                actor=actor,
            )
        run.mismatches = len(found)
        run.finished_at = timezone.now()
        run.save()
    return run


def _check_wallets(run: ReconciliationRun, found: list) -> int:
    checked, last_id = 0, 0
    while True:
        wallets = list(
            Wallet.objects.filter(pk__gt=last_id)
            .order_by("pk")
            .values("pk", "brand_id", *BUCKETS)[:WALLET_BATCH]
        )
        if not wallets:
            return checked
        last_id = wallets[-1]["pk"]
        sums: dict[tuple[int, str], int] = defaultdict(int)
        for row in (
            LedgerEntry.objects.filter(wallet_id__in=[w["pk"] for w in wallets])
            .values("wallet_id", "bucket")
            .annotate(total=Sum("amount"))
        ):
            sums[row["wallet_id"], row["bucket"]] = row["total"]
        for wallet in wallets:
            for bucket in BUCKETS:
                expected = ENTRY_SIGN[bucket] * sums[wallet["pk"], bucket]
                if wallet[bucket] != expected:
                    found.append(
                        ReconciliationMismatch(
                            run=run,
                            kind=ReconciliationMismatch.Kind.WALLET_BALANCE,
                            brand_id=wallet["brand_id"],
                            wallet_id=wallet["pk"],
                            bucket=bucket,
                            expected=expected,
                            actual=wallet[bucket],
                        )
                    )
        checked += len(wallets)


def _check_transactions(run: ReconciliationRun, found: list, since: int) -> tuple[int, int]:
    newest = LedgerTransaction.objects.aggregate(m=Max("pk"))["m"] or since
    window = LedgerTransaction.objects.filter(pk__gt=since, pk__lte=newest)
    unbalanced = (
        LedgerEntry.objects.filter(transaction_id__gt=since, transaction_id__lte=newest)
        .values("transaction_id", "transaction__brand_id")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    )
    for row in unbalanced:
        found.append(
            ReconciliationMismatch(
                run=run,
                kind=ReconciliationMismatch.Kind.UNBALANCED_TRANSACTION,
                brand_id=row["transaction__brand_id"],
                transaction_id=row["transaction_id"],
                expected=0,
                actual=row["total"],
            )
        )
    return window.count(), newest
