"""Delivery of outbox events to their handlers: dispatch, sweep and manual retry."""

import logging
import traceback
from datetime import timedelta

from auditlog.models import LogEntry
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from apps.core import hotpath
from apps.core.correlation import correlation_id_of
from apps.core.events import Subscription, subscriptions_for
from apps.core.models import Event, EventDelivery
from apps.observability import metrics, tracing

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 3600


def backoff_delay(attempts: int) -> timedelta:
    """Exponential backoff after the given number of failed attempts (5 s, 10 s, ... 1 h)."""
    seconds = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds)


def event_dispatch(*, event_id: int, force: bool = False, traceparent: str = "") -> bool:
    """Deliver one event to every subscribed handler that has not had it yet.

    Safe to run concurrently with itself: each (event, handler) delivery is locked with
    SKIP LOCKED, so two dispatchers never run the same handler for the same event at once.
    A handler that is waiting out its backoff is skipped unless `force` is set.
    Returns True when every handler has the event (the event is then marked dispatched).
    `traceparent` is the W3C trace context of the span that published the event, when the
    hand-off carried it: the delivery then joins that trace (observability.tracing).
    """
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        logger.warning("event %s not found for dispatch", event_id)
        return False
    if event.dispatched_at is not None:
        return True
    # Handlers run under the correlation id of the change that published the event, however
    # the event reached this process (its own task, a relay's batch, the sweep).
    with correlation_id_of(event.correlation_id), _event_span(event, traceparent):
        delivered = [_deliver(event, sub, force=force) for sub in subscriptions_for(event.type)]
    if all(delivered):
        Event.objects.filter(pk=event.pk, dispatched_at__isnull=True).update(dispatched_at=timezone.now())
        return True
    return False


def events_dispatch(*, event_ids: list[int], traceparents: list[str] | None = None) -> int:
    """Deliver a batch of events (what a relay's Celery message carries); returns how many
    of them every handler has afterwards.

    A handler subscribed with `batch=True` gets all the batch's events of its types in one
    call and one transaction (`_deliver_batch`): one delivery statement for all of them,
    and the handler's own batched statements. Every other handler gets them one at a
    time, as from `event_dispatch`. Same guarantees as `event_dispatch`: each (event,
    handler) delivery is locked (SKIP LOCKED), done once, retried with backoff.
    `traceparents` (tracing on): each event's publishing span, in the order of `event_ids`;
    an event's deliveries join its trace (a batch handler's span links to every one).
    """
    trace_of = dict(zip(event_ids, traceparents, strict=True)) if traceparents else {}
    events = list(Event.objects.filter(pk__in=event_ids).order_by("pk"))
    already = sum(1 for event in events if event.dispatched_at is not None)
    events = [event for event in events if event.dispatched_at is None]
    complete = {event.pk: True for event in events}
    batches: dict[str, tuple[Subscription, list[Event]]] = {}
    for event in events:
        for sub in subscriptions_for(event.type):
            if sub.batch_handler is not None:
                batches.setdefault(sub.name, (sub, []))[1].append(event)
    for sub, batch in batches.values():
        with tracing.batch_span(f"outbox.handler {sub.name}", [trace_of.get(e.pk, "") for e in batch]):
            done = _deliver_batch(batch, sub)
        for event in batch:
            complete[event.pk] = complete[event.pk] and event.pk in done
    for event in events:
        # A span per event even when only batch handlers had it: the trace shows its dispatch.
        singles = [sub for sub in subscriptions_for(event.type) if sub.batch_handler is None]
        with correlation_id_of(event.correlation_id), _event_span(event, trace_of.get(event.pk, "")):
            for sub in singles:
                if not _deliver(event, sub, force=False):
                    complete[event.pk] = False
    finished = [pk for pk, ok in complete.items() if ok]
    if finished:
        Event.objects.filter(pk__in=finished, dispatched_at__isnull=True).update(dispatched_at=timezone.now())
    return already + len(finished)


def _event_span(event: Event, traceparent: str):
    return tracing.event_span(
        f"outbox.dispatch {event.type}",
        traceparent=traceparent,
        **{
            "pam.event.id": event.pk,
            "pam.event.type": event.type,
            "pam.correlation_id": event.correlation_id,
        },
    )


def _deliver_batch(events: list[Event], sub: Subscription) -> set[int]:
    """Deliver events to a batch handler in one transaction; the ids of those it has.

    The deliveries that are due and not held by another dispatcher are claimed together
    (`_deliveries_claim`); the handler runs once for their events in a savepoint and they
    are marked done with one UPDATE. If the handler raises, nothing of its work stays and
    the events are delivered again one at a time (`_deliver`), so the failure is recorded
    against the event that caused it and the others go through.
    """
    now = timezone.now()
    failed = False
    with transaction.atomic():
        claimed, done = _deliveries_claim([event.pk for event in events], sub.name, now)
        ready = [event for event in events if event.pk in claimed]
        if ready:
            try:
                with transaction.atomic():
                    sub.batch_handler(ready)
            except Exception:  # noqa: BLE001 - delivered again one by one below, failures recorded there
                failed = True
                logger.warning("%s failed on a batch of %s; delivering one by one", sub.name, len(ready))
            else:
                _deliveries_done(list(claimed.values()), now)
                done.update(claimed)
                metrics.OUTBOX_DELIVERIES.labels("done").inc(len(claimed))
    if failed:
        for event in ready:
            with correlation_id_of(event.correlation_id):
                if _deliver(event, sub, force=False):
                    done.add(event.pk)
    return done


_CLAIM_NEW = (
    "INSERT INTO core_eventdelivery"
    " (event_id, handler, status, attempts, last_error, next_attempt_at, created_at)"
    " SELECT unnest(%s::bigint[]), %s, 'pending', 0, '', %s, %s ON CONFLICT DO NOTHING RETURNING event_id, id"
)
_CLAIM_EXISTING = (
    "SELECT event_id, id, status FROM core_eventdelivery WHERE handler = %s AND event_id = ANY(%s::bigint[])"
    " AND (status = 'done' OR (status = 'pending' AND next_attempt_at <= %s)) FOR UPDATE SKIP LOCKED"
)


def _deliveries_claim(event_ids: list[int], handler: str, now) -> tuple[dict[int, int], set[int]]:
    """Claim the (event, handler) deliveries that are due: ({event id: delivery id} now
    held by this transaction, {event ids already done}). A first delivery is a new row,
    held by the INSERT that makes it (a concurrent dispatcher's INSERT waits on the unique
    index, then finds the row and skips it); an earlier failed one is locked, unless
    another dispatcher holds it. One statement for the usual batch, of first deliveries.
    On SQLite (`make run`, one process) the same through the ORM."""
    if connection.vendor != "postgresql":
        EventDelivery.objects.bulk_create(
            [EventDelivery(event_id=pk, handler=handler, next_attempt_at=now) for pk in event_ids],
            ignore_conflicts=True,
        )
        rows = EventDelivery.objects.filter(event_id__in=event_ids, handler=handler).filter(
            Q(status=EventDelivery.Status.DONE)
            | Q(status=EventDelivery.Status.PENDING, next_attempt_at__lte=now)
        )
        found = list(rows.values_list("event_id", "pk", "status"))
        claimed = {event_id: pk for event_id, pk, status in found if status == EventDelivery.Status.PENDING}
        return claimed, {event_id for event_id, _, status in found if status == EventDelivery.Status.DONE}
    claimed = dict(hotpath.fetchall(_CLAIM_NEW, [event_ids, handler, now, now]))
    done: set[int] = set()
    existing = [pk for pk in event_ids if pk not in claimed]
    if existing:
        for event_id, pk, status in hotpath.fetchall(_CLAIM_EXISTING, [handler, existing, now]):
            if status == EventDelivery.Status.DONE:
                done.add(event_id)
            else:
                claimed[event_id] = pk
    return claimed, done


def _deliveries_done(delivery_ids: list[int], now) -> None:
    if connection.vendor != "postgresql":
        EventDelivery.objects.filter(pk__in=delivery_ids).update(
            status=EventDelivery.Status.DONE, attempts=F("attempts") + 1, delivered_at=now
        )
        return
    hotpath.execute(
        "UPDATE core_eventdelivery SET status = 'done', attempts = attempts + 1, delivered_at = %s"
        " WHERE id = ANY(%s::bigint[])",
        [now, delivery_ids],
    )


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
            # The span records a handler's exception before the delivery below records it.
            with (
                transaction.atomic(),
                tracing.span(f"outbox.handler {sub.name}", **{"pam.event.id": event.pk}),
            ):
                sub.handler(event)
        except Exception:  # noqa: BLE001 - the delivery boundary: record every failure, lose none
            locked.last_error = traceback.format_exc()[-8000:]
            if locked.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                locked.status = EventDelivery.Status.DEAD
                metrics.OUTBOX_DELIVERIES.labels("dead").inc()
                logger.error("handler %s gave up on event %s", sub.name, event.pk)
            else:
                metrics.OUTBOX_DELIVERIES.labels("failed").inc()
                locked.next_attempt_at = now + backoff_delay(locked.attempts)
                logger.warning(
                    "handler %s failed on event %s (attempt %s)", sub.name, event.pk, locked.attempts
                )
            locked.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return False
        locked.status = EventDelivery.Status.DONE
        locked.delivered_at = now
        locked.save(update_fields=["attempts", "status", "delivered_at"])
        metrics.OUTBOX_DELIVERIES.labels("done").inc()
        return True


# Counts above this are reported as this: a scrape must stay cheap however large a backlog grows.
LAG_COUNT_CAP = 10000


def outbox_lag(*, now=None) -> dict:
    """How far delivery is behind, for the metrics endpoint: the age in seconds of the oldest
    undispatched event (0 when none), undispatched events, and pending and dead deliveries
    (each count capped at LAG_COUNT_CAP). Every query reads a partial index only."""
    now = now or timezone.now()
    undispatched = Event.objects.filter(dispatched_at__isnull=True)
    oldest = undispatched.order_by("occurred_at").values_list("occurred_at", flat=True).first()

    def capped(queryset) -> int:
        return queryset.order_by().values("pk")[:LAG_COUNT_CAP].count()

    return {
        "oldest_undispatched_seconds": max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        "undispatched_events": capped(undispatched),
        "pending_deliveries": capped(EventDelivery.objects.filter(status=EventDelivery.Status.PENDING)),
        "dead_deliveries": capped(EventDelivery.objects.filter(status=EventDelivery.Status.DEAD)),
    }


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
    if event_ids:
        events_dispatch(event_ids=event_ids)
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
