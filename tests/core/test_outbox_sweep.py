"""The sweep: delivers events whose after-commit dispatch was lost, leaves waiting and dead ones alone."""

from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from typing import ClassVar

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.events import DomainEvent, publish, subscribe
from apps.core.models import Event, EventDelivery
from apps.core.outbox import event_dispatch, outbox_sweep
from apps.core.tasks import outbox_sweep_task
from tests.core.handler_runs import run_record, runs_of

EVENT_TYPE = "test.outbox_sweep_bell_rung"
FAILING_TYPE = "test.outbox_sweep_alarm_raised"


@dataclass(frozen=True)
class BellRung(DomainEvent):
    event_type: ClassVar[str] = EVENT_TYPE
    bell: str


@dataclass(frozen=True)
class AlarmRaised(DomainEvent):
    event_type: ClassVar[str] = FAILING_TYPE
    alarm: str


@subscribe(EVENT_TYPE)
def bell_handler(event: Event) -> None:
    run_record(event, "bell")


@subscribe(FAILING_TYPE)
def alarm_handler(event: Event) -> None:
    run_record(event, "alarm")
    raise RuntimeError("the alarm handler is broken")


def publish_lost(event: DomainEvent, *, django_capture_on_commit_callbacks) -> Event:
    """Publish and commit, but lose the after-commit dispatch (a crash, a broker that is down)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        row = publish(event, actor=system_actor("test"))
    assert len(callbacks) == 1  # the dispatch that never ran
    return row


def age(event: Event, seconds: float) -> None:
    """Make the event `seconds` old."""
    Event.objects.filter(pk=event.pk).update(occurred_at=timezone.now() - timedelta(seconds=seconds))


@pytest.fixture
def lost(django_capture_on_commit_callbacks):
    """lost(event): publish it and lose its after-commit dispatch."""

    def make(event: DomainEvent) -> Event:
        return publish_lost(event, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)

    return make


@pytest.mark.django_db
def test_sweep_delivers_a_lost_event_once_it_is_older_than_the_grace_period(outbox_settings, lost):
    # given: grace period 30 s; a committed event whose dispatch never ran
    event = lost(BellRung(bell="front door"))

    # when: within the grace period (its own dispatch may still be on its way)
    assert outbox_sweep() == 0

    # then
    assert runs_of("bell", event).count() == 0
    assert EventDelivery.objects.count() == 0

    # when: after the grace period
    age(event, 31)
    tried = outbox_sweep()

    # then
    assert tried == 1
    assert runs_of("bell", event).count() == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None


@pytest.mark.django_db
def test_sweep_grace_period_follows_the_setting(outbox_settings, lost):
    # given: a 10-minute grace period and a 5-minute-old lost event
    outbox_settings.OUTBOX_SWEEP_GRACE_SECONDS = 600
    event = lost(BellRung(bell="back door"))
    age(event, 300)

    # when / then
    assert outbox_sweep() == 0
    assert runs_of("bell", event).count() == 0

    # when / then: 11 minutes old
    age(event, 660)
    assert outbox_sweep() == 1
    assert runs_of("bell", event).count() == 1


@pytest.mark.django_db
def test_sweep_leaves_events_waiting_for_backoff_and_dead_ones_alone(outbox_settings, lost):
    # given: old events in every state
    lost_one = lost(BellRung(bell="lost"))
    waiting = lost(AlarmRaised(alarm="waiting"))
    dead = lost(AlarmRaised(alarm="dead"))
    done = lost(BellRung(bell="done"))
    young = lost(BellRung(bell="young"))
    assert event_dispatch(event_id=waiting.pk) is False  # attempt 1 failed: 5 s backoff
    assert event_dispatch(event_id=done.pk) is True
    outbox_settings.OUTBOX_MAX_ATTEMPTS = 1
    assert event_dispatch(event_id=dead.pk) is False  # attempt 1 failed and was the last
    outbox_settings.OUTBOX_MAX_ATTEMPTS = 3
    assert EventDelivery.objects.get(event=dead).status == EventDelivery.Status.DEAD
    for event in (lost_one, waiting, dead, done):
        age(event, 3600)
    waiting_delivery = EventDelivery.objects.get(event=waiting)

    # when
    tried = outbox_sweep()

    # then: only the lost one was tried, and delivered
    assert tried == 1
    assert runs_of("bell", lost_one).count() == 1
    assert set(Event.objects.filter(dispatched_at__isnull=True).values_list("pk", flat=True)) == {
        waiting.pk,
        dead.pk,
        young.pk,
    }
    waiting_delivery.refresh_from_db()
    assert waiting_delivery.attempts == 1
    assert EventDelivery.objects.get(event=dead).attempts == 1
    assert runs_of("bell", done).count() == 1
    assert runs_of("bell", young).count() == 0


@pytest.mark.django_db
def test_sweep_takes_the_oldest_first_up_to_its_limit(outbox_settings, lost):
    # given: three lost, old events
    first, second, third = (lost(BellRung(bell=name)) for name in ("first", "second", "third"))
    for event in (first, second, third):
        age(event, 120)

    # when
    tried = outbox_sweep(limit=2)

    # then
    assert tried == 2
    assert [runs_of("bell", e).count() for e in (first, second, third)] == [1, 1, 0]

    # when: the next tick
    assert outbox_sweep(limit=2) == 1

    # then
    assert [runs_of("bell", e).count() for e in (first, second, third)] == [1, 1, 1]


@pytest.mark.django_db
def test_outbox_sweep_command_and_task_deliver_lost_events(outbox_settings, lost):
    # given
    by_command = lost(BellRung(bell="command"))
    age(by_command, 60)

    # when
    out = StringIO()
    call_command("outbox_sweep", stdout=out)

    # then
    assert out.getvalue() == "Tried 1 event(s).\n"
    assert runs_of("bell", by_command).count() == 1

    # given
    by_task = lost(BellRung(bell="task"))
    age(by_task, 60)

    # when: the beat's task (run eagerly here)
    result = outbox_sweep_task.apply()

    # then
    assert result.get() == 1
    assert runs_of("bell", by_task).count() == 1
    by_task.refresh_from_db()
    assert by_task.dispatched_at is not None
