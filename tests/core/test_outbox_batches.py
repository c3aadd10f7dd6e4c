"""Batch subscribers: a relay's batch reaches a `batch=True` handler in one call, in event
id order, once; a batch that fails is delivered again one event at a time, so only the bad
event fails, and it is recorded and retried like any other failed delivery."""

from dataclasses import dataclass
from typing import ClassVar

import pytest
from django.db import transaction

from apps.core.actors import system_actor
from apps.core.correlation import correlation_id_of
from apps.core.events import DomainEvent, publish, subscribe
from apps.core.models import Event, EventDelivery
from apps.core.outbox import event_dispatch, events_dispatch
from apps.core.tasks import event_dispatch_batch_task
from tests.core.handler_runs import run_record, runs_of

EVENT_TYPE = "test.outbox_batches_box_packed"
OTHER_TYPE = "test.outbox_batches_box_weighed"


@dataclass(frozen=True)
class BoxPacked(DomainEvent):
    event_type: ClassVar[str] = EVENT_TYPE
    box: str


@dataclass(frozen=True)
class BoxWeighed(DomainEvent):
    event_type: ClassVar[str] = OTHER_TYPE
    box: str


class PackerBroke(Exception):
    pass


calls: list[list[int]] = []
poisoned: set[str] = set()  # boxes the packer fails on


@subscribe(EVENT_TYPE, OTHER_TYPE, batch=True)
def packer(events: list[Event]) -> None:
    calls.append([event.pk for event in events])
    for event in events:
        run_record(event, "packer")
        if event.payload["box"] in poisoned:
            raise PackerBroke(f"packer broke on box {event.payload['box']}")


@subscribe(EVENT_TYPE)
def labeller(event: Event) -> None:
    run_record(event, "labeller")


PACKER = "tests.core.test_outbox_batches.packer"
LABELLER = "tests.core.test_outbox_batches.labeller"


@pytest.fixture(autouse=True)
def _fresh():
    calls.clear()
    poisoned.clear()
    yield
    calls.clear()
    poisoned.clear()


def committed(*boxes: str, event_class=BoxPacked, correlation_id: str | None = None) -> list[Event]:
    """Events written and committed, their after-commit dispatch not run (as when the relay
    has them queued for its next Celery message)."""
    with correlation_id_of(correlation_id), transaction.atomic():
        return [publish(event_class(box=box), actor=system_actor("test")) for box in boxes]


def status(event: Event, handler: str) -> tuple[str, int]:
    delivery = EventDelivery.objects.get(event=event, handler=handler)
    return delivery.status, delivery.attempts


@pytest.mark.django_db
def test_a_batch_reaches_a_batch_handler_in_one_call_in_event_order_and_every_other_handler_per_event(
    outbox_settings,
):
    events = committed("a", "b", "c")
    weighed = committed("d", event_class=BoxWeighed)
    ids = [e.pk for e in (*events, *weighed)]

    assert event_dispatch_batch_task(list(reversed(ids))) == 4

    assert calls == [ids]
    for event in events:
        assert status(event, PACKER) == ("done", 1)
        assert status(event, LABELLER) == ("done", 1)
        assert runs_of("labeller", event).count() == 1
    assert status(weighed[0], PACKER) == ("done", 1)
    assert not EventDelivery.objects.filter(event=weighed[0], handler=LABELLER).exists()
    assert Event.objects.filter(pk__in=ids, dispatched_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_a_redelivered_batch_runs_nothing_twice(outbox_settings):
    events = committed("a", "b")
    ids = [e.pk for e in events]
    events_dispatch(event_ids=ids)
    Event.objects.filter(pk__in=ids).update(dispatched_at=None)  # as if the marking was lost

    assert events_dispatch(event_ids=ids) == 2

    assert calls == [ids]
    assert runs_of("packer").count() == 2
    assert runs_of("labeller").count() == 2


@pytest.mark.django_db
def test_a_failing_batch_is_delivered_one_by_one_and_only_the_bad_event_fails(outbox_settings):
    good_1, bad, good_2 = committed("a", "poison", "c")
    poisoned.add("poison")

    assert events_dispatch(event_ids=[good_1.pk, bad.pk, good_2.pk]) == 2

    # The batch call, then one call per event.
    assert calls == [[good_1.pk, bad.pk, good_2.pk], [good_1.pk], [bad.pk], [good_2.pk]]
    assert status(good_1, PACKER) == ("done", 1)
    assert status(good_2, PACKER) == ("done", 1)
    delivery = EventDelivery.objects.get(event=bad, handler=PACKER)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "packer broke on box poison" in delivery.last_error
    # What the failed batch wrote rolled back: one committed run per good event, none for the bad one.
    assert runs_of("packer", good_1).count() == 1
    assert runs_of("packer", bad).count() == 0
    assert runs_of("labeller", bad).count() == 1  # the other handler is not held back
    assert set(Event.objects.filter(dispatched_at__isnull=True).values_list("pk", flat=True)) == {bad.pk}


@pytest.mark.django_db
def test_a_delivery_waiting_out_its_backoff_is_not_in_the_batch(outbox_settings):
    first, waiting = committed("a", "poison")
    poisoned.add("poison")
    events_dispatch(event_ids=[waiting.pk])  # fails: backoff of 5 s
    poisoned.clear()
    calls.clear()

    assert events_dispatch(event_ids=[first.pk, waiting.pk]) == 1

    assert calls == [[first.pk]]
    assert status(waiting, PACKER) == ("pending", 1)


@pytest.mark.django_db
def test_one_event_dispatched_alone_reaches_the_batch_handler_as_a_list_of_one(outbox_settings):
    (event,) = committed("a")

    assert event_dispatch(event_id=event.pk)

    assert calls == [[event.pk]]
    assert status(event, PACKER) == ("done", 1)


@pytest.mark.django_db
def test_after_a_failed_batch_each_event_is_delivered_under_its_own_correlation_id(outbox_settings):
    first = committed("a", correlation_id="corr-first")[0]
    second = committed("b", correlation_id="corr-second")[0]
    poisoned.add("b")  # one by one after the batch: each under its own id

    events_dispatch(event_ids=[first.pk, second.pk])

    run = runs_of("packer", first).get()
    assert run.additional_data["correlation_id"] == "corr-first"
    assert status(second, PACKER) == ("pending", 1)
