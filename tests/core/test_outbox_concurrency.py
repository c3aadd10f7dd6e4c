"""Dispatchers racing for the same event on PostgreSQL: every handler still runs exactly once."""

import threading
import time

import pytest
from django.db import connection

from apps.core.events import subscribe
from apps.core.models import Event, EventDelivery
from apps.core.outbox import event_dispatch, events_dispatch, outbox_sweep
from tests.core.handler_runs import run_record, runs_of

ONE_HANDLER_TYPE = "test.outbox_concurrency_door_opened"
TWO_HANDLERS_TYPE = "test.outbox_concurrency_window_opened"
THREADS = 6


@subscribe(ONE_HANDLER_TYPE, TWO_HANDLERS_TYPE)
def slow_handler(event: Event) -> None:
    run_record(event, "slow")
    # Hold the delivery lock long enough for every other dispatcher to arrive meanwhile.
    time.sleep(0.3)


@subscribe(TWO_HANDLERS_TYPE)
def quick_handler(event: Event) -> None:
    run_record(event, "quick")


def lost_event(event_type: str) -> Event:
    """A committed event whose after-commit dispatch did not run.

    Written directly in autocommit: publish() in a real transaction would dispatch it
    (eagerly) at commit, before the racing dispatchers start.
    """
    return Event.objects.create(type=event_type, payload={"door": "front"}, actor="system:test")


def dispatch_at_once(target, count: int = THREADS) -> tuple[list, list]:
    """Run `target()` in `count` threads released together; returns (results, errors)."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:  # noqa: BLE001 - reported to the test, which asserts there are none
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatches_of_one_event_run_its_handler_once():
    # given
    event = lost_event(ONE_HANDLER_TYPE)

    # when
    results, errors = dispatch_at_once(lambda: event_dispatch(event_id=event.pk))

    # then
    assert errors == []
    assert len(results) == THREADS
    assert True in results  # the dispatcher that ran the handler saw it through
    assert runs_of("slow", event).count() == 1
    delivery = EventDelivery.objects.get(event=event)
    assert delivery.status == EventDelivery.Status.DONE
    assert delivery.attempts == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatches_and_sweeps_run_each_of_two_handlers_once(outbox_settings):
    # given: an event with two handlers, old enough for the sweep too
    outbox_settings.OUTBOX_SWEEP_GRACE_SECONDS = 0
    event = lost_event(TWO_HANDLERS_TYPE)
    calls = iter([*(["dispatch"] * (THREADS - 2)), "sweep", "sweep"])
    lock = threading.Lock()

    def dispatch_or_sweep():
        with lock:
            kind = next(calls)
        return event_dispatch(event_id=event.pk) if kind == "dispatch" else outbox_sweep()

    # when
    _, errors = dispatch_at_once(dispatch_or_sweep)

    # then: each handler ran once, one attempt each, no duplicate delivery rows
    assert errors == []
    assert runs_of("slow", event).count() == 1
    assert runs_of("quick", event).count() == 1
    assert sorted(EventDelivery.objects.filter(event=event).values_list("status", "attempts")) == [
        ("done", 1),
        ("done", 1),
    ]

    # when: a later dispatch (the next sweep) finishes what racing dispatchers may have left
    # unmarked (each skipped the handler another held)
    assert event_dispatch(event_id=event.pk) is True

    # then: marked, still without running a handler again
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert runs_of("slow", event).count() == 1
    assert runs_of("quick", event).count() == 1


BATCH_TYPE = "test.outbox_concurrency_gate_opened"


@subscribe(BATCH_TYPE, batch=True)
def slow_batch_handler(events: list[Event]) -> None:
    for event in events:
        run_record(event, "slow_batch")
    time.sleep(0.3)  # every other dispatcher arrives while this batch holds its deliveries


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_dispatchers_of_overlapping_batches_run_a_batch_handler_once_per_event():
    events = [lost_event(BATCH_TYPE) for _ in range(12)]
    ids = [event.pk for event in events]
    # Each dispatcher takes a window of the events: every event is in several batches.
    windows = iter([ids[i : i + 6] for i in range(0, 12, 2)])
    lock = threading.Lock()

    def next_window():
        with lock:
            window = next(windows)
        return events_dispatch(event_ids=window)

    results, errors = dispatch_at_once(next_window, count=6)

    assert errors == []
    assert len(results) == 6
    for event in events:
        assert runs_of("slow_batch", event).count() == 1
    assert set(EventDelivery.objects.filter(event_id__in=ids).values_list("status", "attempts")) == {
        ("done", 1)
    }
    assert not Event.objects.filter(pk__in=ids, dispatched_at__isnull=True).exists()
