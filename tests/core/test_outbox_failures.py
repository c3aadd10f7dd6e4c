"""A failing handler: recorded, retried with backoff by the sweep, then dead until a person retries."""

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from apps.core.actors import system_actor
from apps.core.events import DomainEvent, publish, subscribe
from apps.core.models import Event, EventDelivery
from apps.core.outbox import backoff_delay, delivery_retry, event_dispatch, outbox_sweep
from tests.core.handler_runs import run_record, runs_of

EVENT_TYPE = "test.outbox_failures_parcel_sent"


@dataclass(frozen=True)
class ParcelSent(DomainEvent):
    event_type: ClassVar[str] = EVENT_TYPE
    parcel: str
    brand_id: int | None = None


class HandlerBroke(Exception):
    pass


# Handlers named here fail (after writing their row, which must then roll back).
broken: set[str] = set()
# (handler, event id) of every attempt, committed or not.
attempts_seen: list[tuple[str, int]] = []


@subscribe(EVENT_TYPE)
def flaky_handler(event: Event) -> None:
    attempts_seen.append(("flaky", event.pk))
    run_record(event, "flaky")
    if "flaky" in broken:
        raise HandlerBroke(f"flaky handler broke on event {event.pk}")


@subscribe(EVENT_TYPE)
def steady_handler(event: Event) -> None:
    attempts_seen.append(("steady", event.pk))
    run_record(event, "steady")


FLAKY = "tests.core.test_outbox_failures.flaky_handler"
STEADY = "tests.core.test_outbox_failures.steady_handler"


@pytest.fixture(autouse=True)
def _handlers_work_again():
    broken.clear()
    attempts_seen.clear()
    yield
    broken.clear()
    attempts_seen.clear()


@pytest.fixture
def publish_committed(django_capture_on_commit_callbacks):
    """publish_committed(**fields): publish a ParcelSent and run its after-commit dispatch."""

    def publish_now(**fields) -> Event:
        fields.setdefault("parcel", "p-1")
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            event = publish(ParcelSent(**fields), actor=system_actor("test"))
        return event

    return publish_now


def make_due(delivery: EventDelivery) -> None:
    """The backoff has passed: move the delivery's next attempt into the past."""
    EventDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def kill(delivery: EventDelivery) -> EventDelivery:
    """Let the broken handler fail until the delivery gives up (OUTBOX_MAX_ATTEMPTS = 3)."""
    for _ in range(10):
        delivery.refresh_from_db()
        if delivery.status != EventDelivery.Status.PENDING:
            break
        make_due(delivery)
        outbox_sweep()
    assert delivery.status == EventDelivery.Status.DEAD
    assert delivery.attempts == 3
    return delivery


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 5), (1, 5), (2, 10), (3, 20), (4, 40), (10, 2560), (11, 3600), (12, 3600), (40, 3600)],
)
def test_backoff_doubles_from_five_seconds_up_to_an_hour(attempts, seconds):
    assert backoff_delay(attempts) == timedelta(seconds=seconds)


@pytest.mark.django_db
def test_failure_is_recorded_with_backoff_other_handlers_run_and_event_stays_undispatched(
    outbox_settings, publish_committed
):
    # given
    broken.add("flaky")

    # when
    before = timezone.now()
    event = publish_committed()
    after = timezone.now()

    # then: the failure is on the flaky handler's delivery, with a 5 s backoff
    flaky = EventDelivery.objects.get(event=event, handler=FLAKY)
    assert flaky.status == EventDelivery.Status.PENDING
    assert flaky.attempts == 1
    assert f"HandlerBroke: flaky handler broke on event {event.pk}" in flaky.last_error
    assert "Traceback" in flaky.last_error
    assert before + timedelta(seconds=5) <= flaky.next_attempt_at <= after + timedelta(seconds=5)
    assert flaky.delivered_at is None
    # the handler after it still ran, once, and is done
    steady = EventDelivery.objects.get(event=event, handler=STEADY)
    assert steady.status == EventDelivery.Status.DONE
    assert steady.attempts == 1
    assert steady.last_error == ""
    assert attempts_seen == [("flaky", event.pk), ("steady", event.pk)]
    assert runs_of("steady", event).count() == 1
    # the failed attempt ran and wrote, and its write was rolled back with it
    assert runs_of("flaky", event).count() == 0
    event.refresh_from_db()
    assert event.dispatched_at is None


@pytest.mark.django_db
def test_second_failure_doubles_the_backoff(outbox_settings, publish_committed):
    # given: a first failure, now due for retry
    broken.add("flaky")
    event = publish_committed()
    delivery = EventDelivery.objects.get(event=event, handler=FLAKY)
    make_due(delivery)

    # when: the sweep retries and it fails again
    before = timezone.now()
    assert outbox_sweep() == 1
    after = timezone.now()

    # then
    delivery.refresh_from_db()
    assert delivery.status == EventDelivery.Status.PENDING
    assert delivery.attempts == 2
    assert before + timedelta(seconds=10) <= delivery.next_attempt_at <= after + timedelta(seconds=10)
    # the steady handler was not run again
    assert attempts_seen == [("flaky", event.pk), ("steady", event.pk), ("flaky", event.pk)]
    assert runs_of("steady", event).count() == 1


@pytest.mark.django_db
def test_sweep_waits_for_the_backoff_then_redelivers(outbox_settings, publish_committed):
    # given: a failed delivery waiting out its backoff, and the handler fixed meanwhile
    broken.add("flaky")
    event = publish_committed()
    delivery = EventDelivery.objects.get(event=event, handler=FLAKY)
    broken.clear()

    # when: the sweep runs before the backoff is due
    tried = outbox_sweep()

    # then: it leaves the delivery alone
    assert tried == 0
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.status == EventDelivery.Status.PENDING
    assert runs_of("flaky", event).count() == 0

    # when: the backoff is due
    make_due(delivery)
    tried = outbox_sweep()

    # then: redelivered, once; the steady handler is not run again; the event is dispatched
    assert tried == 1
    delivery.refresh_from_db()
    assert delivery.status == EventDelivery.Status.DONE
    assert delivery.attempts == 2
    assert delivery.delivered_at is not None
    assert runs_of("flaky", event).count() == 1
    assert runs_of("steady", event).count() == 1
    assert attempts_seen.count(("steady", event.pk)) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None


@pytest.mark.django_db
def test_dispatch_skips_a_delivery_waiting_for_backoff_unless_forced(outbox_settings, publish_committed):
    # given
    broken.add("flaky")
    event = publish_committed()
    broken.clear()

    # when: an early dispatch (a duplicate task, say)
    assert event_dispatch(event_id=event.pk) is False

    # then: the backoff is respected
    assert EventDelivery.objects.get(event=event, handler=FLAKY).attempts == 1
    assert runs_of("flaky", event).count() == 0

    # when: forced
    assert event_dispatch(event_id=event.pk, force=True) is True

    # then
    assert EventDelivery.objects.get(event=event, handler=FLAKY).status == EventDelivery.Status.DONE
    assert runs_of("flaky", event).count() == 1


@pytest.mark.django_db
def test_after_max_attempts_the_delivery_is_dead_and_the_sweep_gives_up(outbox_settings, publish_committed):
    # given: OUTBOX_MAX_ATTEMPTS = 3 and a handler that keeps failing
    broken.add("flaky")
    event = publish_committed()
    delivery = EventDelivery.objects.get(event=event, handler=FLAKY)

    # when: attempts 2 and 3 come due and fail
    for expected_attempts in (2, 3):
        make_due(delivery)
        assert outbox_sweep() == 1
        delivery.refresh_from_db()
        assert delivery.attempts == expected_attempts

    # then
    assert delivery.status == EventDelivery.Status.DEAD
    assert f"flaky handler broke on event {event.pk}" in delivery.last_error
    assert attempts_seen.count(("flaky", event.pk)) == 3
    assert runs_of("flaky", event).count() == 0

    # when: the sweep runs again, long after (even with the retry time in the past)
    make_due(delivery)
    Event.objects.filter(pk=event.pk).update(occurred_at=timezone.now() - timedelta(hours=1))
    assert outbox_sweep() == 0
    assert event_dispatch(event_id=event.pk) is False

    # then: nobody tries a dead delivery again on their own
    delivery.refresh_from_db()
    assert delivery.attempts == 3
    assert delivery.status == EventDelivery.Status.DEAD
    assert attempts_seen.count(("flaky", event.pk)) == 3
    event.refresh_from_db()
    assert event.dispatched_at is None


@pytest.mark.django_db
def test_delivery_retry_delivers_a_dead_delivery_and_audits_who_asked(
    outbox_settings, publish_committed, superuser
):
    # given: a dead delivery, and a handler that was fixed since
    broken.add("flaky")
    event = publish_committed()
    dead = kill(EventDelivery.objects.get(event=event, handler=FLAKY))
    assert dead.status == EventDelivery.Status.DEAD
    broken.clear()

    # when
    delivered = delivery_retry(delivery=dead, actor=superuser)

    # then
    assert delivered is True
    dead.refresh_from_db()
    assert dead.status == EventDelivery.Status.DONE
    assert dead.attempts == 4
    assert runs_of("flaky", event).count() == 1
    assert runs_of("steady", event).count() == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None
    audit = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(EventDelivery), object_id=dead.pk
    )
    assert audit.actor == superuser
    assert audit.changes == {"status": ["dead", "pending"], "retry_requested_by": [None, str(superuser)]}


@pytest.mark.django_db
def test_delivery_retry_of_a_still_broken_handler_leaves_it_dead(
    outbox_settings, publish_committed, superuser
):
    # given
    broken.add("flaky")
    event = publish_committed()
    dead = kill(EventDelivery.objects.get(event=event, handler=FLAKY))

    # when
    delivered = delivery_retry(delivery=dead, actor=superuser)

    # then: one more attempt, dead again, nothing written
    assert delivered is False
    dead.refresh_from_db()
    assert dead.status == EventDelivery.Status.DEAD
    assert dead.attempts == 4
    assert runs_of("flaky", event).count() == 0
    event.refresh_from_db()
    assert event.dispatched_at is None


@pytest.mark.django_db
def test_dead_delivery_is_listed_in_the_admin_for_a_superuser(
    outbox_settings, publish_committed, superuser, admin_client_of
):
    # given
    broken.add("flaky")
    event = publish_committed()
    dead = kill(EventDelivery.objects.get(event=event, handler=FLAKY))
    done = EventDelivery.objects.get(event=event, handler=STEADY)

    # when
    response = admin_client_of(superuser).get("/admin/core/eventdelivery/")
    dead_only = admin_client_of(superuser).get("/admin/core/eventdelivery/", {"status": "dead"})

    # then
    assert response.status_code == 200
    assert {d.pk for d in response.context["cl"].result_list} == {dead.pk, done.pk}
    assert dead_only.status_code == 200
    assert [d.pk for d in dead_only.context["cl"].result_list] == [dead.pk]
    assert FLAKY in dead_only.content.decode()
    assert "retry_now" in dict(response.context["action_form"].fields["action"].choices)


@pytest.mark.django_db
def test_admin_retry_now_action_delivers_a_dead_delivery(
    outbox_settings, publish_committed, superuser, admin_client_of
):
    # given
    broken.add("flaky")
    event = publish_committed()
    dead = kill(EventDelivery.objects.get(event=event, handler=FLAKY))
    broken.clear()

    # when
    response = admin_client_of(superuser).post(
        "/admin/core/eventdelivery/",
        {"action": "retry_now", "_selected_action": [str(dead.pk)], "index": "0"},
        follow=True,
    )

    # then
    assert response.status_code == 200
    assert "1 of 1 delivery(ies) now done." in [str(m) for m in response.context["messages"]]
    dead.refresh_from_db()
    assert dead.status == EventDelivery.Status.DONE
    assert runs_of("flaky", event).count() == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None


@pytest.mark.django_db
def test_admin_deliveries_by_brand_and_only_superusers_may_retry(
    outbox_settings, publish_committed, brand, other_brand, make_staff, admin_client_of
):
    # given: a dead delivery of brand A; an auditor of brand A and one of brand B
    broken.add("flaky")
    event = publish_committed(brand_id=brand.pk)
    dead = kill(EventDelivery.objects.get(event=event, handler=FLAKY))
    broken.clear()
    auditor_a = make_staff("Auditor", brands=[brand])
    auditor_b = make_staff("Auditor", brands=[other_brand])

    # when / then: the brand's auditor sees it, without the retry action
    listing = admin_client_of(auditor_a).get("/admin/core/eventdelivery/")
    assert listing.status_code == 200
    assert dead.pk in {d.pk for d in listing.context["cl"].result_list}
    assert listing.context["action_form"] is None  # no action at all: the page is read-only for them

    # when / then: and cannot run it by posting it anyway; nothing changes
    response = admin_client_of(auditor_a).post(
        "/admin/core/eventdelivery/",
        {"action": "retry_now", "_selected_action": [str(dead.pk)], "index": "0"},
    )
    assert response.status_code == 200  # the list again; there is no action to run
    dead.refresh_from_db()
    assert dead.status == EventDelivery.Status.DEAD
    assert dead.attempts == 3
    assert runs_of("flaky", event).count() == 0

    # when / then: another brand's auditor does not see it at all
    other = admin_client_of(auditor_b).get("/admin/core/eventdelivery/")
    assert other.status_code == 200
    assert list(other.context["cl"].result_list) == []
    detail = admin_client_of(auditor_b).get(f"/admin/core/eventdelivery/{dead.pk}/change/", follow=True)
    assert detail.redirect_chain == [("/admin/", 302)]
    assert "doesn’t exist" in " ".join(str(m) for m in detail.context["messages"])
