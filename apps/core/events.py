"""Domain events: publish inside the transaction, deliver after commit.

    @dataclass(frozen=True)
    class PlayerRegistered(DomainEvent):
        event_type: ClassVar[str] = "players.player_registered"
        player_id: int
        brand_id: int

    with transaction.atomic():
        player = Player.objects.create(...)
        publish(PlayerRegistered(player_id=player.pk, brand_id=player.brand_id), actor=actor)

Subscribers live in the subscribing app's handlers.py:

    @subscribe("players.player_registered")
    def timeline_on_player_registered(event: Event) -> None: ...

A handler that does better with many events at once (one transaction, one statement
for all of them) subscribes with `batch=True` and takes a list, in event id order:

    @subscribe("wallet.bet_placed", batch=True)
    def rules_on_event(events: list[Event]) -> None: ...

The outbox hands it whole batches where it has them (`outbox.events_dispatch`, what
the relay's Celery task runs) and one-event lists otherwise; a batch that fails is
delivered again one event at a time, so one bad event fails alone.

Delivery is at-least-once, so every handler must be idempotent by event id. A handler's
database writes commit together with its delivery record, so a redelivery after success
is skipped; anything a handler does outside the database must tolerate a repeat.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.utils import timezone

from apps.core import hotpath
from apps.core.actors import actor_label
from apps.core.correlation import correlation_id_ensure
from apps.core.models import Event
from apps.observability.tracing import traceparent_current

logger = logging.getLogger(__name__)

Handler = Callable[[Event], None]
BatchHandler = Callable[[list[Event]], None]


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event. Subclasses set `event_type` and declare their fields."""

    event_type: ClassVar[str] = ""

    def to_payload(self) -> dict:
        # Fields are flat values or plain dicts/lists; a shallow copy is enough (and asdict's
        # deep copy costs more than the INSERT that follows).
        return dict(vars(self))


@dataclass(frozen=True)
class Subscription:
    name: str
    event_type: str
    handler: Handler
    batch_handler: BatchHandler | None = None  # set for `subscribe(..., batch=True)`


_subscriptions: dict[str, dict[str, Subscription]] = {}


def subscribe(*event_types: str, batch: bool = False) -> Callable:
    """Register the decorated function as a handler of these event types (of a list of
    them, in event id order, with `batch=True`).

    The handler's dotted path names its delivery records, so renaming a handler makes it
    a new subscriber (it will not see events delivered before the rename).
    """

    def register(handler):
        name = f"{handler.__module__}.{handler.__qualname__}"
        one = _one_at_a_time(handler) if batch else handler
        for event_type in event_types:
            _subscriptions.setdefault(event_type, {})[name] = Subscription(
                name, event_type, one, handler if batch else None
            )
        return handler

    return register


def _one_at_a_time(batch_handler: BatchHandler) -> Handler:
    def handle(event: Event) -> None:
        batch_handler([event])

    return handle


def subscriptions_for(event_type: str) -> list[Subscription]:
    return list(_subscriptions.get(event_type, {}).values())


def publish(event: DomainEvent, *, actor) -> Event:
    """Write the event in the caller's transaction; dispatch it once that commits.

    Refuses to run outside a transaction: an event written apart from its change could
    announce a change that then rolled back, or miss one that committed.
    """
    row = outbox_row(event, actor=actor)
    return outbox_row_written(row, outbox_row_insert(row))


def outbox_row(event: DomainEvent, *, actor) -> Event:
    """The unsaved outbox row of an event, for a caller that writes it in its own statement
    (the wallet folds it into the statement that moves the money); then call
    `outbox_row_written`. Everyone else calls `publish`."""
    if not event.event_type:
        raise TypeError(f"{type(event).__name__} has no event_type")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events must be written inside the transaction that makes the change")
    return Event(
        type=event.event_type,
        brand_id=getattr(event, "brand_id", None),
        player_id=getattr(event, "player_id", None),
        payload=event.to_payload(),
        occurred_at=timezone.now(),
        correlation_id=correlation_id_ensure(),
        actor=actor_label(actor),
    )


def outbox_row_written(row: Event, pk: int) -> Event:
    """The row was inserted in the current transaction as `pk`: dispatch it after commit."""
    row.pk = pk
    row._state.adding = False
    row._state.db = DEFAULT_DB_ALIAS

    # The publishing span ("" when tracing is off): the event's handlers join its trace.
    traceparent = traceparent_current()

    # A named function, not functools.partial: Django logs a failed robust callback by its
    # __qualname__, which a partial lacks, so the logging itself would raise and fail the
    # caller after all (and drop the transaction's remaining on-commit callbacks).
    def dispatch_after_commit() -> None:
        _dispatch_after_commit(pk, traceparent)

    # robust: a broker that is down must not fail the request that already committed;
    # the periodic sweep delivers what this misses. Off eager Celery the dispatch is only
    # queued here and published in batches by the process's relay (core.relay).
    transaction.on_commit(dispatch_after_commit, robust=True)
    return row


def outbox_row_insert(row: Event) -> int:
    """Insert an outbox row; its id. One prepared statement: events are written on every
    bet, and the ORM's save() costs several times the statement itself."""
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    return hotpath.fetchone(
        "INSERT INTO core_event (type, brand_id, player_id, payload, occurred_at, correlation_id, actor)"
        f" VALUES (%s, %s, %s, %s{jsonb}, %s, %s, %s) RETURNING id",
        [
            row.type,
            row.brand_id,
            row.player_id,
            json.dumps(row.payload, cls=DjangoJSONEncoder),
            row.occurred_at,
            row.correlation_id,
            row.actor,
        ],
    )[0]


def _dispatch_after_commit(event_id: int, traceparent: str) -> None:
    from apps.core.relay import dispatch_after_commit

    dispatch_after_commit(event_id, traceparent)
