"""Celery doors of the security app (CELERY_BEAT_SCHEDULE in pam/settings.py)."""

from celery import shared_task

from apps.security.audit import audit_records_purge


@shared_task(acks_late=True)
def audit_records_purge_task() -> dict:
    """The beat's audit retention tick: records older than AUDIT_RETENTION_DAYS go, in
    batches, and the purge is itself recorded. Safe to repeat and to run on two workers."""
    record = audit_records_purge()
    return {"audit_record": record.pk, **record.detail}
