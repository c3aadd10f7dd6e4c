"""At-least-once delivery, exactly-once handling: a redelivered event is skipped by handlers that ran."""

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.events import DomainEvent, publish, subscribe
from apps.core.models import Event, EventDelivery
from apps.core.outbox import event_dispatch, outbox_sweep
from apps.core.tasks import event_dispatch_task
from tests.core.handler_runs import run_record, runs_of

EVENT_TYPE = "test.outbox_idempotency_coin_tossed"


@dataclass(frozen=True)
class CoinTossed(DomainEvent):
    event_type: ClassVar[str] = EVENT_TYPE
    side: str


@subscribe(EVENT_TYPE)
def tally_handler(event: Event) -> None:
    run_record(event, "tally")


@subscribe(EVENT_TYPE)
def ledger_handler(event: Event) -> None:
    run_record(event, "ledger")


class Crash(Exception):
    pass


@pytest.fixture
def committed_event(django_capture_on_commit_callbacks, outbox_settings):
    """An event published, committed and dispatched once."""
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = publish(CoinTossed(side="heads"), actor=system_actor("test"))
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert runs_of("tally", event).count() == 1
    assert runs_of("ledger", event).count() == 1
    return event


@pytest.mark.django_db
def test_dispatching_a_dispatched_event_again_runs_no_handler(committed_event):
    # when: a duplicate task (at-least-once broker), plain and forced
    assert event_dispatch(event_id=committed_event.pk) is True
    assert event_dispatch(event_id=committed_event.pk, force=True) is True
    event_dispatch_task.delay(committed_event.pk)

    # then
    assert runs_of("tally", committed_event).count() == 1
    assert runs_of("ledger", committed_event).count() == 1
    assert list(EventDelivery.objects.filter(event=committed_event).values_list("attempts", flat=True)) == [
        1,
        1,
    ]


@pytest.mark.django_db
def test_redispatch_after_a_crash_before_marking_skips_the_handlers_that_ran(committed_event):
    # given: every handler ran, but the dispatcher died before it set dispatched_at
    Event.objects.filter(pk=committed_event.pk).update(dispatched_at=None)

    # when
    delivered = event_dispatch(event_id=committed_event.pk)

    # then: the event is marked, and no handler ran twice
    assert delivered is True
    committed_event.refresh_from_db()
    assert committed_event.dispatched_at is not None
    assert runs_of("tally", committed_event).count() == 1
    assert runs_of("ledger", committed_event).count() == 1


@pytest.mark.django_db
def test_sweep_rerunning_over_an_event_runs_each_handler_once(committed_event):
    # given: the same crash, and the event is now old enough for the sweep
    Event.objects.filter(pk=committed_event.pk).update(
        dispatched_at=None, occurred_at=timezone.now() - timedelta(minutes=5)
    )

    # when: the sweep runs twice (two beat ticks, or two beats by mistake)
    first = outbox_sweep()
    second = outbox_sweep()

    # then: the first tick marks it; the second has nothing to do; handlers ran once
    assert (first, second) == (1, 0)
    committed_event.refresh_from_db()
    assert committed_event.dispatched_at is not None
    assert runs_of("tally", committed_event).count() == 1
    assert runs_of("ledger", committed_event).count() == 1


@pytest.mark.django_db
def test_handler_writes_and_its_delivery_record_commit_or_roll_back_together(outbox_settings):
    # given: an event whose after-commit dispatch has not run
    with transaction.atomic():
        event = publish(CoinTossed(side="tails"), actor=system_actor("test"))

    # when: a dispatch runs inside a transaction that then fails (the process died
    # before its commit): handlers ran and wrote, and their delivery records said done
    with pytest.raises(Crash), transaction.atomic():
        assert event_dispatch(event_id=event.pk) is True
        assert runs_of("tally", event).count() == 1
        assert EventDelivery.objects.get(event=event, handler__endswith="tally_handler").status == "done"
        raise Crash

    # then: neither the writes nor the delivery records survived
    assert runs_of("tally", event).count() == 0
    assert runs_of("ledger", event).count() == 0
    assert EventDelivery.objects.filter(event=event).count() == 0
    event.refresh_from_db()
    assert event.dispatched_at is None

    # when: the event is delivered again
    assert event_dispatch(event_id=event.pk) is True

    # then: each handler's write is there once, with one attempt on record
    assert runs_of("tally", event).count() == 1
    assert runs_of("ledger", event).count() == 1
    assert list(EventDelivery.objects.filter(event=event).values_list("status", "attempts")) == [
        ("done", 1),
        ("done", 1),
    ]


@pytest.mark.django_db
def test_dispatch_of_an_unknown_event_does_nothing():
    assert event_dispatch(event_id=987654321) is False
    assert EventDelivery.objects.count() == 0
