"""Dispatch through a real broker: a real worker delivers, and a broker that is down fails nothing."""

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import kombu.pools
import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.correlation import correlation_id_reset, correlation_id_set
from apps.core.events import DomainEvent, publish, subscribe
from apps.core.models import Event, EventDelivery
from apps.core.outbox import outbox_sweep
from apps.core.relay import EventRelay, relay
from pam.celery import app as celery_app
from tests.core.handler_runs import run_record, runs_of

EVENT_TYPE = "test.celery_worker_pigeon_sent"
DEADLINE_SECONDS = 10


@dataclass(frozen=True)
class PigeonSent(DomainEvent):
    event_type: ClassVar[str] = EVENT_TYPE
    message: str


# Threads the handler ran in (the test asserts it was not the test's own thread).
handler_threads: list[int] = []


@subscribe(EVENT_TYPE)
def pigeon_handler(event: Event) -> None:
    handler_threads.append(threading.get_ident())
    run_record(event, "pigeon")


def _close_worker_connections(sender=None, **kwargs) -> None:
    # Tasks run in the worker's thread, which has its own Django connections; close them
    # after each task so the test database has no stray sessions at flush and teardown.
    # (Celery's Django fixup does this too; this does not depend on it.)
    if sender is not None and not getattr(sender.request, "is_eager", False):
        connections.close_all()


def _reset_broker_pools() -> None:
    """Drop pooled broker connections, so the next task publish connects to the current broker_url."""
    # kombu keeps its pools in a process-wide registry; reset() closes them and empties it.
    kombu.pools.reset()
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextlib.contextmanager
def celery_configured(**overrides):
    """pam's Celery app with these settings for the block, restored afterwards."""
    saved = {key: celery_app.conf[key] for key in overrides}
    celery_app.conf.update(overrides)
    _reset_broker_pools()
    try:
        yield celery_app
    finally:
        # What the block committed last may still be in the relay: hand it over under
        # these settings, not run eagerly on the relay's thread once they are restored.
        relay.flush(DEADLINE_SECONDS)
        celery_app.conf.update(saved)
        _reset_broker_pools()


@contextlib.contextmanager
def running_worker(*, pool: str = "solo", concurrency: int = 1, queues: list[str] | None = None):
    """pam's Celery app on this xdist worker's Redis database, with a real worker in a thread
    (by default one solo worker consuming every queue, as a worker started without -Q)."""
    with celery_configured(
        broker_url=settings.REDIS_URL,
        task_always_eager=False,
        # The worker would otherwise take over the root logger (and with it pytest's capture).
        worker_hijack_root_logger=False,
    ):
        signals.task_postrun.connect(_close_worker_connections, weak=False)
        root_level = logging.getLogger().level  # the worker's log setup lowers it to its loglevel
        try:
            with start_worker(
                celery_app,
                pool=pool,
                concurrency=concurrency,
                queues=queues,
                perform_ping_check=False,
                shutdown_timeout=20,
            ) as worker:
                yield worker
        finally:
            # A worker told its queues narrows the app's own selection, in this process, for
            # every later worker: give the next one every queue again.
            celery_app.amqp.queues.select(list(celery_app.amqp.queues))
            signals.task_postrun.disconnect(_close_worker_connections)
            logging.captureWarnings(False)  # the worker's log setup turned it on
            logging.getLogger().setLevel(root_level)


def closed_port() -> int:
    """A local TCP port nobody listens on (bound for a moment, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_dispatched(event: Event) -> Event:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        event.refresh_from_db()
        if event.dispatched_at is not None:
            return event
        time.sleep(0.05)
    raise AssertionError(f"event {event.pk} was not dispatched within {DEADLINE_SECONDS} s")


def commit_each_and_wait_until_dispatched(count: int, label: str) -> list[Event]:
    """`count` changes committed one after another, each publishing one event; returns the
    events once a worker has dispatched every one (fails after the deadline otherwise)."""
    events = []
    for i in range(count):
        with transaction.atomic():
            events.append(publish(PigeonSent(message=f"{label} {i}"), actor=system_actor("test")))
    assert relay.flush(timeout=10)
    return [wait_until_dispatched(event) for event in events]


def other_sessions_on_test_database() -> dict[int, str]:
    """{backend pid: what it last ran} of the other sessions on the test database. A test of
    the worker compares them before and after its run: what another test of this xdist
    process left open is not the worker's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state || ': ' || left(query, 120) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return dict(cursor.fetchall())


def sessions_left_open(before: dict[int, str], wait_seconds: float) -> dict[int, str]:
    """The sessions opened since `before` that are still open after up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    while True:
        left = {pid: q for pid, q in other_sessions_on_test_database().items() if pid not in before}
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _forget_handler_threads():
    handler_threads.clear()
    yield
    handler_threads.clear()


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_delivers_a_committed_event_under_the_publishers_correlation_id():
    config_before = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    sessions_before = other_sessions_on_test_database()
    with running_worker():
        # given: a job with its own correlation id
        token = correlation_id_set("cid-worker-1")
        try:
            # when: it publishes and commits; the dispatch goes to the broker, not in-process
            with transaction.atomic():
                event = publish(PigeonSent(message="hello"), actor=system_actor("test"))
            assert handler_threads == []
        finally:
            correlation_id_reset(token)

        # then: the worker delivered it
        event = wait_until_dispatched(event)

    assert handler_threads != []
    assert threading.get_ident() not in handler_threads
    run = runs_of("pigeon", event).get()
    # the id crossed to the worker in the task header
    assert run.cid == "cid-worker-1"
    assert run.additional_data["correlation_id"] == "cid-worker-1"
    assert event.correlation_id == "cid-worker-1"
    # the task audits as the system user
    assert run.actor.username == "system"
    delivery = EventDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts) == ("done", 1)
    # the worker thread left no session open on the test database
    assert sessions_left_open(sessions_before, wait_seconds=5) == {}
    # and the app is configured as before for the rest of the suite
    assert (celery_app.conf.broker_url, celery_app.conf.task_always_eager) == config_before


@pytest.mark.django_db(transaction=True)
def test_broker_down_fails_nothing_that_committed_and_the_sweep_delivers_later(outbox_settings, caplog):
    # given: a broker that cannot be reached
    down = celery_configured(
        broker_url=f"redis://127.0.0.1:{closed_port()}/0", task_always_eager=False, task_publish_retry=False
    )
    # when: a change publishes two events and commits
    with down, caplog.at_level(logging.ERROR):
        with transaction.atomic():
            first = publish(PigeonSent(message="one"), actor=system_actor("test"))
            second = publish(PigeonSent(message="two"), actor=system_actor("test"))
        # the commit returned at once; the relay's thread tries the broker
        assert relay.flush(timeout=10)

    # then: the commit stands, the lost hand-off was logged (not raised), nothing delivered
    assert set(Event.objects.values_list("pk", flat=True)) == {first.pk, second.pk}
    lost = [r for r in caplog.records if r.getMessage().startswith("event relay: could not hand")]
    assert lost
    assert sum(int(r.getMessage().split()[5]) for r in lost) == 2
    assert handler_threads == []
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 2

    # when: the sweep runs after the grace period (tasks run eagerly again)
    Event.objects.update(occurred_at=timezone.now() - timedelta(seconds=31))
    tried = outbox_sweep()

    # then
    assert tried == 2
    assert runs_of("pigeon", first).count() == 1
    assert runs_of("pigeon", second).count() == 1
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 0


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_relay_hands_a_burst_of_commits_to_the_broker_in_a_few_messages(settings):
    settings.OUTBOX_RELAY_INTERVAL_SECONDS = 1.0
    published: list[list[int]] = []

    def count(sender=None, body=None, **kwargs):
        if sender == "apps.core.tasks.event_dispatch_batch_task":
            published.append(list(body[0][0]))

    signals.before_task_publish.connect(count, weak=False)
    try:
        with running_worker():
            # when: twenty changes commit one after another, each with its own event
            # then: every event reached the worker and was delivered
            events = commit_each_and_wait_until_dispatched(20, "burst")
    finally:
        signals.before_task_publish.disconnect(count)

    # in far fewer broker messages than events (the first at once, the rest gathered),
    # together carrying every id exactly once
    assert 1 <= len(published) <= 3
    assert sorted(i for batch in published for i in batch) == sorted(e.pk for e in events)
    assert [runs_of("pigeon", e).count() for e in events] == [1] * 20


OUTBOX_TASKS = {
    "apps.core.tasks.event_dispatch_task",
    "apps.core.tasks.event_dispatch_batch_task",
    "apps.core.tasks.outbox_sweep_task",
}


def test_the_outbox_has_a_queue_of_its_own_and_a_worker_without_q_consumes_both():
    # Given every task the apps register
    celery_app.loader.import_default_modules()
    ours = {name for name in celery_app.tasks if name.startswith("apps.")}
    assert OUTBOX_TASKS.issubset(ours) and ours != OUTBOX_TASKS
    # Then the outbox's go to its queue, every other one to the default queue
    route = celery_app.amqp.router.route
    assert {name: route({}, name)["queue"].name for name in OUTBOX_TASKS} == dict.fromkeys(
        OUTBOX_TASKS, "outbox"
    )
    others = ours - OUTBOX_TASKS
    assert {route({}, name)["queue"].name for name in others} == {"celery"}
    assert "apps.rules.tasks.backtest_run_task" in others
    # And a worker told no queue consumes both, each bound by its own name only
    assert {name: queue.routing_key for name, queue in celery_app.amqp.queues.items()} == {
        "celery": "celery",
        "outbox": "outbox",
    }


@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_threaded_worker_on_the_outbox_queue_alone_delivers_every_event_once(settings):
    # Given a worker as production runs the outbox's: its queue only, two threads
    settings.OUTBOX_RELAY_INTERVAL_SECONDS = 0.05
    routed: list[str] = []

    def record(sender=None, routing_key=None, **kwargs):
        if sender in OUTBOX_TASKS:
            routed.append(routing_key)

    sessions_before = other_sessions_on_test_database()
    signals.before_task_publish.connect(record, weak=False)
    try:
        with running_worker(pool="threads", concurrency=2, queues=["outbox"]):
            # When forty changes commit, each with its own event, then that worker delivers every one
            events = commit_each_and_wait_until_dispatched(40, "threaded")
    finally:
        signals.before_task_publish.disconnect(record)

    # through the outbox's queue, once each, in the worker's threads, leaving no session open
    assert routed and set(routed) == {"outbox"}
    # and the next worker of the suite consumes every queue again
    assert set(celery_app.amqp.queues.consume_from) == {"celery", "outbox"}
    assert [runs_of("pigeon", e).count() for e in events] == [1] * 40
    assert EventDelivery.objects.filter(event__in=events, status="done", attempts=1).count() == 40
    assert handler_threads and threading.get_ident() not in handler_threads
    assert sessions_left_open(sessions_before, wait_seconds=5) == {}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_what_the_relay_thread_runs_itself_leaves_no_session_open():
    # given: ids in a relay while Celery is eager, as when a test restores its settings
    # before the relay published what the test committed last (seen in CI: a session left
    # open by the relay's thread, and a test database that could not be dropped)
    sessions_before = other_sessions_on_test_database()
    event = Event.objects.create(type=EVENT_TYPE, payload={"message": "late"}, actor="test")
    late = EventRelay()

    # when: its thread publishes them, which eager Celery runs on that thread
    late.submit(event.pk)
    assert late.flush(timeout=10)

    # then: the event was delivered there, and the thread closed what it opened
    event = wait_until_dispatched(event)
    assert runs_of("pigeon", event).count() == 1
    assert handler_threads and threading.get_ident() not in handler_threads
    assert sessions_left_open(sessions_before, wait_seconds=5) == {}


def test_a_forked_process_starts_its_own_relay_thread():
    fresh = EventRelay()
    fresh._start_if_needed()
    first = fresh._thread
    fresh._start_if_needed()
    assert fresh._thread is first  # the same process keeps its thread

    fresh._pid = -1  # what a forked child sees: its parent's relay, whose thread it lacks
    fresh._start_if_needed()

    assert fresh._thread is not first
    assert fresh._thread.is_alive()
    assert fresh._pid == os.getpid()
