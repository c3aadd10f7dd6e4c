"""Periodic work of payments (CELERY_BEAT_SCHEDULE in pam/settings.py)."""

from celery import shared_task

from apps.payments.services import reviews_escalate_overdue


@shared_task
def reviews_escalate_overdue_task() -> int:
    """The SLA timer: overdue standard-queue items go to the senior queue. Safe to repeat."""
    return reviews_escalate_overdue()
