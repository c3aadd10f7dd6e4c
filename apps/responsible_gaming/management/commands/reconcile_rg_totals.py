"""Check that every responsible-gaming running total equals the ledger's figure for its window."""

from django.core.management.base import BaseCommand, CommandError

from apps.responsible_gaming.reconciliation import totals_reconcile


class Command(BaseCommand):
    help = "Check the responsible-gaming running totals against the ledger (exit 1 on a mismatch)."

    def handle(self, *args, **options):
        checked, mismatches = totals_reconcile()
        for m in mismatches:
            self.stderr.write(
                f"player {m.player_id} {m.kind}/{m.period} from {m.period_start}: "
                f"total {m.recorded}, ledger {m.ledger}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} of {checked} running totals differ from the ledger")
        self.stdout.write(f"{checked} running totals checked: all equal the ledger")
