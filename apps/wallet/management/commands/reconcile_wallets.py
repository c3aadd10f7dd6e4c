from django.core.management.base import BaseCommand

from apps.core.actors import audit_as, system_actor
from apps.wallet.reconciliation import reconciliation_run


class Command(BaseCommand):
    help = "Check every wallet against its ledger entries and every new transaction sums to zero."

    def handle(self, *args, **options):
        actor = system_actor("reconcile_wallets")
        with audit_as(actor):
            run = reconciliation_run(actor=actor)
        self.stdout.write(
            f"Run #{run.pk}: {run.wallets_checked} wallet(s), {run.transactions_checked} new transaction(s), "
            f"{run.mismatches} mismatch(es)."
        )
        if run.mismatches:
            for mismatch in run.found.all()[:50]:
                self.stdout.write(f"  {mismatch}")
            raise SystemExit(1)
