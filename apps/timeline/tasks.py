"""Celery doors of the timeline app (CELERY_BEAT_SCHEDULE in pam/settings.py)."""

from celery import shared_task
from django.contrib.auth import get_user_model

from apps.core.actors import audit_as
from apps.timeline.erasure import erasure_request_process, erasures_sweep
from apps.timeline.models import ErasureRequest
from apps.timeline.retention import SYSTEM, retention_run


@shared_task(acks_late=True)
def retention_run_task() -> dict:
    """The beat's retention tick: apply every brand's policies, then the erasures' follow-up.
    Safe to repeat and to run on two workers at once (retention.retention_run)."""
    with audit_as(SYSTEM):
        records = retention_run()
        swept = erasures_sweep()
    return {"purge_records": [record.pk for record in records], **swept}


@shared_task(acks_late=True)
def erasure_request_process_task(erasure_id: int, staff_id: int) -> str:
    """Process an erasure request as the staff member who asked for it (their permission is
    checked again here, by the service). Returns the request's status; safe to repeat."""
    erasure = ErasureRequest.objects.filter(pk=erasure_id).first()
    staff = get_user_model().objects.filter(pk=staff_id).first()
    if erasure is None or staff is None:
        return "missing"
    return erasure_request_process(actor=staff, erasure=erasure).status
