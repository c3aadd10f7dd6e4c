"""Proof that the guard's running totals equal the ledger: each row against its window's sums."""

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.events import publish
from apps.responsible_gaming.events import TotalsMismatchFound
from apps.responsible_gaming.models import RunningTotal
from apps.responsible_gaming.services import ledger_figure


@dataclass(frozen=True)
class TotalsMismatch:
    total_id: int
    player_id: int
    kind: str
    period: str
    period_start: str
    recorded: int
    ledger: int


def totals_reconcile(*, since=None, publish_mismatches: bool = True) -> tuple[int, list[TotalsMismatch]]:
    """Check every running total whose window ends after `since` (default: 35 days ago).

    Runs in one REPEATABLE READ snapshot on PostgreSQL (when it is the outermost
    transaction, as under the task and the command), so movements committing meanwhile
    cannot make a row and its ledger sums disagree. Returns (rows checked, mismatches) and
    publishes responsible_gaming.totals_mismatch for each mismatch.
    """
    since = since or timezone.now() - timezone.timedelta(days=35)
    mismatches: list[TotalsMismatch] = []
    checked = 0
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = RunningTotal.objects.filter(period_end__gt=since).select_related("player").order_by("pk")
        for row in rows.iterator(chunk_size=500):
            checked += 1
            ledger = ledger_figure(
                player_id=row.player_id,
                kind=row.kind,
                currency=row.currency,
                start=row.period_start,
                end=row.period_end,
            )
            if ledger != row.total:
                mismatches.append(
                    TotalsMismatch(
                        row.pk,
                        row.player_id,
                        row.kind,
                        row.period,
                        row.period_start.isoformat(),
                        row.total,
                        ledger,
                    )
                )
        if publish_mismatches:
            for m in mismatches:
                publish(
                    TotalsMismatchFound(
                        player_id=m.player_id,
                        brand_id=RunningTotal.objects.get(pk=m.total_id).player.brand_id,
                        kind=m.kind,
                        period=m.period,
                        period_start=m.period_start,
                        recorded=m.recorded,
                        ledger=m.ledger,
                    ),
                    actor=system_actor("rg-reconciliation"),
                )
    return checked, mismatches
