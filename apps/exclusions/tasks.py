"""Celery doors of the exclusions app (CELERY_BEAT_SCHEDULE in pam/settings.py)."""

from celery import shared_task

from apps.core.actors import audit_as, system_actor
from apps.exclusions.batch import batch_run_resume, batch_runs_due
from apps.exclusions.models import BatchRun


@shared_task(acks_late=True)
def batch_tick_task() -> list[int]:
    """The daily re-check's beat tick: start the runs that are due and hand every run in
    progress to a worker. Safe to repeat (a running run is never planned twice)."""
    with audit_as(system_actor("exclusions-batch")):
        runs = batch_runs_due()
    for run in runs:
        batch_run_resume_task.delay(run.pk)
    return [run.pk for run in runs]


@shared_task(acks_late=True)
def batch_run_resume_task(run_id: int) -> str:
    """Work a run's pending chunks (see batch.batch_run_resume). Returns the run's status.

    Safe to repeat and to run on two workers at once (they take different chunks); a
    worker killed mid-chunk leaves that chunk pending for the next tick.
    """
    run = BatchRun.objects.filter(pk=run_id).first()
    if run is None or run.status != BatchRun.Status.RUNNING:
        return run.status if run is not None else "missing"
    return batch_run_resume(run).status
