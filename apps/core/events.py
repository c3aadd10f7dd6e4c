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

Delivery is at-least-once, so every handler must be idempotent by event id. A handler's
database writes commit together with its delivery record, so a redelivery after success
is skipped; anything a handler does outside the database must tolerate a repeat.
"""

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from django.db import transaction

from apps.core.actors import actor_label
from apps.core.correlation import correlation_id_ensure
from apps.core.models import Event

logger = logging.getLogger(__name__)

Handler = Callable[[Event], None]


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event. Subclasses set `event_type` and declare their fields."""

    event_type: ClassVar[str] = ""

    def to_payload(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Subscription:
    name: str
    event_type: str
    handler: Handler


_subscriptions: dict[str, dict[str, Subscription]] = {}


def subscribe(*event_types: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as a handler of these event types.

    The handler's dotted path names its delivery records, so renaming a handler makes it
    a new subscriber (it will not see events delivered before the rename).
    """

    def register(handler: Handler) -> Handler:
        name = f"{handler.__module__}.{handler.__qualname__}"
        for event_type in event_types:
            _subscriptions.setdefault(event_type, {})[name] = Subscription(name, event_type, handler)
        return handler

    return register


def subscriptions_for(event_type: str) -> list[Subscription]:
    return list(_subscriptions.get(event_type, {}).values())


def publish(event: DomainEvent, *, actor) -> Event:
    """Write the event in the caller's transaction; dispatch it once that commits.

    Refuses to run outside a transaction: an event written apart from its change could
    announce a change that then rolled back, or miss one that committed.
    """
    if not event.event_type:
        raise TypeError(f"{type(event).__name__} has no event_type")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("publish() must be called inside the transaction that makes the change")
    row = Event.objects.create(
        type=event.event_type,
        brand_id=getattr(event, "brand_id", None),
        player_id=getattr(event, "player_id", None),
        payload=event.to_payload(),
        correlation_id=correlation_id_ensure(),
        actor=actor_label(actor),
    )

    # A named function, not functools.partial: Django logs a failed robust callback by its
    # __qualname__, which a partial lacks, so the logging itself would raise and fail the
    # caller after all (and drop the transaction's remaining on-commit callbacks).
    def dispatch_after_commit() -> None:
        _dispatch_after_commit(row.pk)

    # robust: a broker that is down must not fail the request that already committed;
    # the periodic sweep delivers what this misses.
    transaction.on_commit(dispatch_after_commit, robust=True)
    return row


def _dispatch_after_commit(event_id: int) -> None:
    from apps.core.tasks import event_dispatch_task

    event_dispatch_task.delay(event_id)
