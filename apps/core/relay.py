"""The after-commit hand-off of committed events to Celery, batched per process.

Publishing one Celery message per event costs a broker round trip (~0.5 ms) on the
request's own thread, which is more than the wallet's whole database work for a bet. So a
commit only appends the event ids to this process's relay; a daemon thread publishes
them a batch at a time (`event_dispatch_batch_task`), a few milliseconds later.

Nothing is lost when the relay cannot publish (broker down, process killed before the
thread ran): the events are committed and undispatched, and the periodic outbox sweep
delivers them once they are older than its grace period. Eager Celery (the embedded
default, and the test suite) dispatches synchronously on the committing thread instead,
as before, so handlers have run by the time the commit returns.
"""

import atexit
import logging
import os
import threading
import time

from django.conf import settings
from django.db import connections

from apps.observability import tracing
from pam.celery import app as celery_app

logger = logging.getLogger(__name__)

# Ids per Celery message; a longer backlog goes out as several messages.
BATCH_MAX = 200


class EventRelay:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[int, str]] = []
        self._wakeup = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def submit(self, event_id: int, traceparent: str = "") -> None:
        with self._lock:
            self._start_if_needed()
            self._pending.append((event_id, traceparent))
            self._idle.clear()
        self._wakeup.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far was handed to the broker (or given up on)."""
        return self._idle.wait(timeout)

    def _start_if_needed(self) -> None:
        """Start this process's thread (the caller holds the lock). A forked child (gunicorn,
        Celery prefork) inherits the parent's relay object but not its running thread."""
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        self._pending = []
        self._wakeup = threading.Event()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="pam-event-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wakeup = self._wakeup
        while True:
            wakeup.wait()
            with self._lock:
                batch, self._pending = self._pending, []
                wakeup.clear()
            for start in range(0, len(batch), BATCH_MAX):
                self._publish(batch[start : start + BATCH_MAX])
            if celery_app.conf.task_always_eager:
                # Celery was made eager after these were queued (a test restoring its
                # settings): the tasks ran here, on this thread's own database connections,
                # which nothing else would close.
                connections.close_all()
            with self._lock:
                if not self._pending:
                    self._idle.set()
            # Gather for a while before the next publish: an idle process hands an event over
            # at once, a busy one sends one message per interval whatever its rate, so the
            # broker's cost per event falls as the load rises.
            time.sleep(settings.OUTBOX_RELAY_INTERVAL_SECONDS)

    @staticmethod
    def _publish(batch: list[tuple[int, str]]) -> None:
        from apps.core.tasks import event_dispatch_batch_task

        event_ids = [event_id for event_id, _ in batch]
        traceparents = [traceparent for _, traceparent in batch]
        try:
            # Under a span in the publishers' trace (or linked to each), so the task's run in
            # the worker is part of the trace of the request that committed the events.
            with tracing.batch_span("outbox.relay publish", traceparents):
                if any(traceparents):
                    event_dispatch_batch_task.delay(event_ids, traceparents)
                else:
                    event_dispatch_batch_task.delay(event_ids)
        except Exception:  # noqa: BLE001 - the sweep delivers what the broker did not take
            logger.exception(
                "event relay: could not hand %s events to the broker (first %s); the outbox sweep"
                " will deliver them",
                len(event_ids),
                event_ids[0],
            )


relay = EventRelay()
atexit.register(relay.flush, 2.0)


def dispatch_after_commit(event_id: int, traceparent: str = "") -> None:
    """What a committed transaction does for each of its events."""
    if celery_app.conf.task_always_eager:
        from apps.core.tasks import event_dispatch_task

        event_dispatch_task.delay(event_id, traceparent)
    else:
        relay.submit(event_id, traceparent)
