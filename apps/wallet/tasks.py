"""Celery doors of the wallet."""

from celery import shared_task

from apps.core.actors import audit_as, system_actor
from apps.wallet.reconciliation import reconciliation_run


@shared_task(acks_late=True)
def reconciliation_run_task() -> int:
    """Returns the number of mismatches found."""
    actor = system_actor("reconciliation")
    with audit_as(actor):
        return reconciliation_run(actor=actor).mismatches
