"""publish(): the event is written in the caller's transaction and delivered only after commit."""

from dataclasses import dataclass
from typing import ClassVar

import pytest
from django.db import transaction

from apps.core.actors import system_actor
from apps.core.correlation import correlation_id_get
from apps.core.events import DomainEvent, publish, subscribe
from apps.core.models import Event, EventDelivery
from tests.core.handler_runs import run_record, runs_of
from tests.factories import StaffUserFactory

EVENT_TYPE = "test.publish_thing_happened"


@dataclass(frozen=True)
class ThingHappened(DomainEvent):
    event_type: ClassVar[str] = EVENT_TYPE
    thing: str
    brand_id: int | None = None
    player_id: int | None = None


@dataclass(frozen=True)
class Untyped(DomainEvent):
    thing: str


# Ids of the events the handler saw, in this process (a rolled-back event must never show up).
seen: list[int] = []


@subscribe(EVENT_TYPE)
def thing_recorder(event: Event) -> None:
    seen.append(event.pk)
    run_record(event, "thing_recorder")


@pytest.fixture(autouse=True)
def _forget_seen():
    seen.clear()
    yield
    seen.clear()


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_publish_outside_a_transaction_is_refused_and_writes_nothing():
    # given: autocommit, no atomic block around the call
    assert not transaction.get_connection().in_atomic_block

    # when / then
    with pytest.raises(RuntimeError, match=r"events must be written inside the transaction"):
        publish(ThingHappened(thing="stray"), actor=system_actor("test"))

    assert Event.objects.count() == 0
    assert EventDelivery.objects.count() == 0
    assert seen == []


@pytest.mark.django_db
def test_publish_writes_the_event_row_with_payload_ids_actor_and_correlation_id():
    # given
    staff = StaffUserFactory()

    # when
    with transaction.atomic():
        row = publish(ThingHappened(thing="lamp", brand_id=7, player_id=42), actor=staff)

    # then
    stored = Event.objects.get(pk=row.pk)
    assert stored.type == EVENT_TYPE
    assert stored.brand_id == 7
    assert stored.player_id == 42
    assert stored.payload == {"thing": "lamp", "brand_id": 7, "player_id": 42}
    assert stored.actor == f"staff:{staff.pk}"
    # A job or shell without a request gets an id made for it, and keeps it for what follows.
    assert stored.correlation_id
    assert stored.correlation_id == correlation_id_get()
    assert stored.dispatched_at is None  # the test's outer transaction never commits


@pytest.mark.django_db
def test_publish_refuses_an_event_without_a_type_and_writes_nothing():
    with transaction.atomic(), pytest.raises(TypeError, match="Untyped has no event_type"):
        publish(Untyped(thing="x"), actor=system_actor("test"))

    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_publish_refuses_something_that_is_not_an_actor_and_writes_nothing():
    with transaction.atomic(), pytest.raises(TypeError, match="Not an actor"):
        publish(ThingHappened(thing="x"), actor="bob")

    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_committed_event_is_delivered_after_commit_not_before(django_capture_on_commit_callbacks):
    # given / when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            event = publish(ThingHappened(thing="lamp"), actor=system_actor("test"))
            # then: nothing is delivered while the transaction is still open
            assert seen == []
        assert seen == []  # still nothing: the on-commit callbacks have not run yet

    # then: one after-commit dispatch, which delivered the event to its handler
    assert len(callbacks) == 1
    assert seen == [event.pk]
    assert runs_of("thing_recorder", event).count() == 1
    delivery = EventDelivery.objects.get(event=event)
    assert delivery.handler == "tests.core.test_publish.thing_recorder"
    assert delivery.status == EventDelivery.Status.DONE
    assert delivery.attempts == 1
    assert delivery.delivered_at is not None
    event.refresh_from_db()
    assert event.dispatched_at is not None


@pytest.mark.django_db
def test_rolled_back_event_is_never_delivered_and_leaves_no_row(django_capture_on_commit_callbacks):
    # when: the change that publishes the event fails after publishing
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        publish(ThingHappened(thing="lamp"), actor=system_actor("test"))
        raise Boom

    # then
    assert callbacks == []
    assert seen == []
    assert Event.objects.count() == 0
    assert EventDelivery.objects.count() == 0
    assert runs_of("thing_recorder").count() == 0


@pytest.mark.django_db(transaction=True)
def test_real_commit_delivers_the_event():
    # when: a real transaction commits (Celery runs eagerly in the tests)
    with transaction.atomic():
        event = publish(ThingHappened(thing="lamp"), actor=system_actor("test"))
        assert seen == []

    # then
    assert seen == [event.pk]
    assert runs_of("thing_recorder", event).count() == 1
    assert EventDelivery.objects.get(event=event).status == EventDelivery.Status.DONE
    event.refresh_from_db()
    assert event.dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_real_rollback_delivers_nothing_and_leaves_no_row():
    # when
    with pytest.raises(Boom), transaction.atomic():
        publish(ThingHappened(thing="lamp"), actor=system_actor("test"))
        raise Boom

    # then
    assert seen == []
    assert Event.objects.count() == 0
    assert EventDelivery.objects.count() == 0
    assert runs_of("thing_recorder").count() == 0


@pytest.mark.django_db(transaction=True)
def test_event_published_in_a_rolled_back_savepoint_is_dropped_but_the_outer_one_is_delivered():
    # when: an inner step publishes and fails; the outer change carries on and commits
    with transaction.atomic():
        kept = publish(ThingHappened(thing="kept"), actor=system_actor("test"))
        with pytest.raises(Boom), transaction.atomic():
            publish(ThingHappened(thing="dropped"), actor=system_actor("test"))
            raise Boom

    # then
    assert seen == [kept.pk]
    assert list(Event.objects.values_list("payload__thing", flat=True)) == ["kept"]
