"""Delivery of outbox events to their handlers: dispatch, sweep and manual retry."""

import logging
import traceback
from datetime import timedelta

from auditlog.models import LogEntry
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.core.correlation import correlation_id_reset, correlation_id_set
from apps.core.events import Subscription, subscriptions_for
from apps.core.models import Event, EventDelivery

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 3600


def backoff_delay(attempts: int) -> timedelta:
    """Exponential backoff after the given number of failed attempts (5 s, 10 s, ... 1 h)."""
    seconds = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds)


def event_dispatch(*, event_id: int, force: bool = False) -> bool:
    """Deliver one event to every subscribed handler that has not had it yet.

    Safe to run concurrently with itself: each (event, handler) delivery is locked with
    SKIP LOCKED, so two dispatchers never run the same handler for the same event at once.
    A handler that is waiting out its backoff is skipped unless `force` is set.
    Returns True when every handler has the event (the event is then marked dispatched).
    """
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        logger.warning("event %s not found for dispatch", event_id)
        return False
    if event.dispatched_at is not None:
        return True
    # Handlers run under the correlation id of the change that published the event, however
    # the event reached this process (its own task, a relay's batch, the sweep).
    token = correlation_id_set(event.correlation_id) if event.correlation_id else None
    try:
        delivered = [_deliver(event, sub, force=force) for sub in subscriptions_for(event.type)]
    finally:
        if token is not None:
            correlation_id_reset(token)
    if all(delivered):
        Event.objects.filter(pk=event.pk, dispatched_at__isnull=True).update(dispatched_at=timezone.now())
        return True
    return False


def _deliver(event: Event, sub: Subscription, *, force: bool) -> bool:
    delivery, _ = EventDelivery.objects.get_or_create(event=event, handler=sub.name)
    if delivery.status == EventDelivery.Status.DONE:
        return True
    if delivery.status == EventDelivery.Status.DEAD:
        return False
    if not force and delivery.next_attempt_at > timezone.now():
        return False
    with transaction.atomic():
        locked = (
            EventDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery.pk, status=EventDelivery.Status.PENDING)
            .first()
        )
        if locked is None:
            # Another dispatcher holds it, or finished it since we looked.
            return EventDelivery.objects.filter(pk=delivery.pk, status=EventDelivery.Status.DONE).exists()
        now = timezone.now()
        locked.attempts += 1
        try:
            with transaction.atomic():
                sub.handler(event)
        except Exception:  # noqa: BLE001 - the delivery boundary: record every failure, lose none
            locked.last_error = traceback.format_exc()[-8000:]
            if locked.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                locked.status = EventDelivery.Status.DEAD
                logger.error("handler %s gave up on event %s", sub.name, event.pk)
            else:
                locked.next_attempt_at = now + backoff_delay(locked.attempts)
                logger.warning(
                    "handler %s failed on event %s (attempt %s)", sub.name, event.pk, locked.attempts
                )
            locked.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return False
        locked.status = EventDelivery.Status.DONE
        locked.delivered_at = now
        locked.save(update_fields=["attempts", "status", "delivered_at"])
        return True


def outbox_sweep(*, limit: int = 500) -> int:
    """Dispatch what was left behind; returns how many events it tried.

    Two kinds: deliveries whose retry is due, and events whose after-commit dispatch never
    ran (a crashed process, a broker that was down) once they are older than the grace
    period. Events that only wait for a backoff or a dead delivery are left alone.
    """
    now = timezone.now()
    due_retry = (
        EventDelivery.objects.filter(status=EventDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("event_id", flat=True)[:limit]
    )
    waiting = EventDelivery.objects.filter(event=OuterRef("pk")).filter(
        Q(status=EventDelivery.Status.DEAD) | Q(status=EventDelivery.Status.PENDING, next_attempt_at__gt=now)
    )
    never_dispatched = (
        Event.objects.filter(
            dispatched_at__isnull=True,
            occurred_at__lte=now - timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS),
        )
        .exclude(Exists(waiting))
        .order_by("occurred_at")
        .values_list("pk", flat=True)[:limit]
    )
    event_ids = sorted(set(due_retry) | set(never_dispatched))[:limit]
    for event_id in event_ids:
        event_dispatch(event_id=event_id)
    return len(event_ids)


def delivery_retry(*, delivery: EventDelivery, actor) -> bool:
    """Give a dead or waiting delivery another go now, on a person's word (audited).

    Returns True when this delivery is done afterwards (other handlers of the event may
    still be waiting).
    """
    with transaction.atomic():
        locked = EventDelivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status == EventDelivery.Status.DONE:
            return True
        previous = locked.status
        locked.status = EventDelivery.Status.PENDING
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "next_attempt_at"])
        LogEntry.objects.log_create(
            locked,
            force_log=True,
            action=LogEntry.Action.UPDATE,
            changes={"status": [previous, "pending"], "retry_requested_by": [None, str(actor)]},
            actor=actor if getattr(actor, "is_authenticated", False) else None,
        )
    event_dispatch(event_id=delivery.event_id, force=True)
    return EventDelivery.objects.filter(pk=delivery.pk, status=EventDelivery.Status.DONE).exists()
