"""What test handlers leave behind: one audit row per handler run, counted by the tests.

A handler run writes a real row (an auditlog LogEntry about the event) inside the
handler, so a test sees exactly the runs whose writes committed, and a run rolled back
with its failed attempt leaves nothing. The row also keeps the correlation id the handler
ran under (auditlog's cid), which is how the tests see what reached a Celery worker.
"""

from auditlog.models import LogEntry

from apps.core.correlation import correlation_id_get
from apps.core.models import Event


def run_record(event: Event, handler: str) -> LogEntry:
    """Write the row that says `handler` ran for `event` (call it from inside the handler)."""
    return LogEntry.objects.log_create(
        event,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        changes={"handled_by": [None, handler]},
        additional_data={"handler": handler, "correlation_id": correlation_id_get()},
    )


def runs_of(handler: str, event: Event | int | None = None):
    """The committed (visible) run rows of `handler`, optionally for one event."""
    rows = LogEntry.objects.filter(additional_data__handler=handler)
    if event is not None:
        rows = rows.filter(object_id=event if isinstance(event, int) else event.pk)
    return rows
