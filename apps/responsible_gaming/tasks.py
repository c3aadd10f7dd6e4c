"""Periodic work of responsible gaming (CELERY_BEAT_SCHEDULE in pam/settings.py)."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task
def limits_apply_due_task() -> int:
    """Apply limit increases whose cooling-off is over (safe to run concurrently and again)."""
    from apps.responsible_gaming.services import limits_apply_due

    return limits_apply_due()


@shared_task
def totals_reconcile_task() -> int:
    """Check the guard's running totals against the ledger; returns the number of mismatches."""
    from apps.responsible_gaming.reconciliation import totals_reconcile

    _checked, mismatches = totals_reconcile()
    for m in mismatches:
        logger.error(
            "responsible gaming: running total %s is %s, the ledger says %s", m.total_id, m.recorded, m.ledger
        )
    return len(mismatches)
