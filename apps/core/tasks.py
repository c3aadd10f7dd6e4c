"""Celery doors of the outbox."""

from celery import shared_task

from apps.core import outbox
from apps.core.actors import audit_as, system_actor


@shared_task(acks_late=True)
def event_dispatch_task(event_id: int) -> bool:
    with audit_as(system_actor("outbox")):
        return outbox.event_dispatch(event_id=event_id)


@shared_task(acks_late=True)
def outbox_sweep_task() -> int:
    with audit_as(system_actor("outbox")):
        return outbox.outbox_sweep()


@shared_task(acks_late=True)
def event_dispatch_batch_task(event_ids: list[int]) -> int:
    """Dispatch a batch handed over by a process's relay; returns how many completed."""
    with audit_as(system_actor("outbox")):
        return outbox.events_dispatch(event_ids=event_ids)
