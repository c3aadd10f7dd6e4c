"""Celery doors of the outbox."""

from celery import shared_task

from apps.core import outbox
from apps.core.actors import audit_as, system_actor


@shared_task(acks_late=True)
def event_dispatch_task(event_id: int, traceparent: str = "") -> bool:
    with audit_as(system_actor("outbox")):
        return outbox.event_dispatch(event_id=event_id, traceparent=traceparent)


@shared_task(acks_late=True)
def outbox_sweep_task() -> int:
    with audit_as(system_actor("outbox")):
        return outbox.outbox_sweep()


@shared_task(acks_late=True)
def event_dispatch_batch_task(event_ids: list[int], traceparents: list[str] | None = None) -> int:
    """Dispatch a batch handed over by a process's relay; returns how many completed.

    `traceparents` (when tracing is on) holds each event's publishing span, in the order of
    `event_ids`, so each event's handlers join the trace of the request that caused it."""
    traceparents = traceparents if traceparents and len(traceparents) == len(event_ids) else None
    with audit_as(system_actor("outbox")):
        return outbox.events_dispatch(event_ids=event_ids, traceparents=traceparents)
