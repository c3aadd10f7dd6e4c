"""The SLA timer: items past their deadline in the standard queue go to the senior queue.

Time is moved with time-machine: the items are queued at T0 (standard deadline 240 min,
senior 480 min) and the timer runs later.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.payments import services
from apps.payments.exceptions import PaymentPermissionDenied
from apps.payments.models import Payment, Queue, ReviewAction, Status
from apps.payments.tasks import reviews_escalate_overdue_task
from tests.payments.conftest import PROVIDER
from tests.payments.states import (
    D,
    W,
    event_types,
    lenient_policy,
    payment_in,
    roles,  # noqa: F401 - fixture: faster role groups
    snapshot,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SLA = timedelta(minutes=240)
SENIOR_SLA = timedelta(minutes=480)


@pytest.fixture
def queue(brand, player, funded_wallet, reviewer):
    """At T0: a flagged deposit, a withdrawal claimed by a reviewer, an item escalated by
    hand; at T0+3h: a withdrawal that is not due until T0+7h."""
    lenient_policy(brand, sla_minutes=240, senior_sla_minutes=480)
    with time_machine.travel(T0, tick=False):
        items = {
            "flagged": payment_in(D, Status.FLAGGED, player=player, reviewer=reviewer),
            "claimed": payment_in(W, Status.IN_REVIEW, player=player, reviewer=reviewer),
            "senior": payment_in(W, Status.PENDING_REVIEW, player=player, reviewer=reviewer),
        }
        services.review_escalate(actor=reviewer, payment_id=items["senior"].pk, reason="by hand")
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        items["later"] = payment_in(W, Status.PENDING_REVIEW, player=player, reviewer=reviewer)
    for item in items.values():
        item.refresh_from_db()
    return items


def test_deadlines_are_set_when_queued(queue):
    assert queue["flagged"].sla_due_at == T0 + SLA
    assert queue["claimed"].sla_due_at == T0 + SLA
    assert queue["senior"].sla_due_at == T0 + SENIOR_SLA
    assert queue["later"].sla_due_at == T0 + timedelta(hours=3) + SLA


def test_nothing_is_escalated_before_its_deadline(queue):
    before = {name: snapshot(item) for name, item in queue.items()}

    with time_machine.travel(T0 + SLA - timedelta(seconds=1), tick=False):
        assert services.reviews_escalate_overdue() == 0

    assert {name: snapshot(item) for name, item in queue.items()} == before


def test_overdue_items_go_to_the_senior_queue_claimed_ones_unclaimed(queue):
    # when the timer runs at the standard deadline
    now = T0 + SLA
    with time_machine.travel(now, tick=False):
        escalated = services.reviews_escalate_overdue()

    # then the two overdue standard items are escalated, with the senior deadline
    assert escalated == 2
    for name, status in (("flagged", Status.FLAGGED), ("claimed", Status.PENDING_REVIEW)):
        item = Payment.objects.get(pk=queue[name].pk)
        assert (item.status, item.queue, item.claimed_by_id) == (status, Queue.SENIOR, None), name
        assert (item.escalated_at, item.sla_due_at) == (now, now + SENIOR_SLA)
        action = ReviewAction.objects.filter(payment=item).last()
        assert (action.action, action.actor, action.staff_id, action.reason) == (
            "escalated",
            "system:payments",
            None,
            "SLA breached",
        )
        assert event_types(item)[-1] == "payments.review_escalated"
    # the not-yet-due one stays in the standard queue; the senior one is not escalated again
    later = Payment.objects.get(pk=queue["later"].pk)
    assert (later.queue, later.escalated_at) == (Queue.STANDARD, None)
    senior = Payment.objects.get(pk=queue["senior"].pk)
    assert (senior.escalated_at, senior.sla_due_at) == (T0, T0 + SENIOR_SLA)
    assert ReviewAction.objects.filter(payment=senior, action="escalated").count() == 1


def test_running_the_timer_again_changes_nothing(queue):
    with time_machine.travel(T0 + SLA + timedelta(minutes=5), tick=False):
        assert services.reviews_escalate_overdue() == 2
        before = {name: snapshot(item) for name, item in queue.items()}
        assert services.reviews_escalate_overdue() == 0
    assert {name: snapshot(item) for name, item in queue.items()} == before


def test_senior_items_are_never_escalated_again_even_past_their_deadline(queue):
    with time_machine.travel(T0 + timedelta(hours=12), tick=False):
        # everything is overdue now; only the standard items move, "later" among them
        assert services.reviews_escalate_overdue() == 3
        assert services.reviews_escalate_overdue() == 0
    senior = Payment.objects.get(pk=queue["senior"].pk)
    assert senior.escalated_at == T0
    assert ReviewAction.objects.filter(payment=senior, action="escalated").count() == 1


def test_the_celery_task_runs_the_timer(queue):
    with time_machine.travel(T0 + SLA, tick=False):
        result = reviews_escalate_overdue_task.delay()
        assert result.get() == 2
        assert reviews_escalate_overdue_task.delay().get() == 0
    assert Payment.objects.get(pk=queue["claimed"].pk).queue == Queue.SENIOR


def test_finished_items_are_not_escalated(queue, reviewer):
    services.payment_cancel(payment_id=queue["flagged"].pk, actor=PROVIDER)
    with time_machine.travel(T0 + SLA, tick=False):
        assert services.reviews_escalate_overdue() == 1  # only the claimed withdrawal
    assert Payment.objects.get(pk=queue["flagged"].pk).status == Status.CANCELLED


def test_the_senior_queue_needs_its_permission_to_claim(queue, reviewer, compliance_officer):
    with time_machine.travel(T0 + SLA, tick=False):
        services.reviews_escalate_overdue()
    item = Payment.objects.get(pk=queue["claimed"].pk)
    before = snapshot(item)

    with pytest.raises(PaymentPermissionDenied) as refused:
        services.review_claim(actor=reviewer, payment_id=item.pk)
    assert refused.value.code == "senior_queue"
    assert snapshot(item) == before

    services.review_claim(actor=compliance_officer, payment_id=item.pk)
    item.refresh_from_db()
    assert (item.status, item.claimed_by_id) == (Status.IN_REVIEW, compliance_officer.pk)
