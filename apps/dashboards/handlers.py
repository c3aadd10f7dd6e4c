"""The dashboards' subscriptions: what the live pages receive comes from here, after commit.

Handlers run inside the outbox delivery's transaction; everything they send out waits for
that transaction's commit (`transaction.on_commit`), so a page never sees an event whose
delivery rolled back, and a delivery already done (committed) is never pushed twice by a
redelivery. Consumers only forward what these push.

- queue and alert events: one message each, to `dash.<brand>.<stream>`;
- counter events: added to the brand's minute counters (counters.py); the ticker pushes
  snapshots, at most about one a second per brand;
- a staff member's access changing: their open sockets are told to reconnect, so that
  they join exactly the groups of their brands now.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from apps.core.events import subscribe
from apps.core.models import Event
from apps.dashboards import counters
from apps.dashboards.push import push
from apps.dashboards.streams import ALERT_TYPES, QUEUE_TYPES, group_name, messages_for, user_group_name

COUNTED = {
    "wallet.deposit_credited": "dep",
    "wallet.withdrawal_reserved": "wd",
    "wallet.bet_placed": "bet",
    "wallet.win_settled": "win",
}
COUNTER_TYPES = (
    *COUNTED,
    "wallet.transaction_rolled_back",
    "exclusions.register_checked",
    "exclusions.batch_chunk_failed",
    "players.login_succeeded",
)


@subscribe(*QUEUE_TYPES, *ALERT_TYPES, batch=True)
def dashboards_push_on_event(events: list[Event]) -> None:
    sends = []
    for message in messages_for(events):
        # Serialised once here, not once per socket by each consumer.
        text = json.dumps(message, cls=DjangoJSONEncoder)
        sends.append(
            (group_name(message["brand_id"], message["stream"]), {"type": "dash.message", "text": text})
        )

    def send() -> None:
        for group, layer_message in sends:
            push(group, layer_message)

    if sends:
        transaction.on_commit(send, robust=True)


def counter_fields(event: Event) -> dict[str, int] | None:
    """The counter increments of an event ({} counts the player active only; None: nothing)."""
    p = event.payload
    metric = COUNTED.get(event.type)
    if metric is not None:
        return {f"n:{metric}": 1, f"a:{metric}:{p['currency']}": int(p["amount"])}
    if event.type == "wallet.transaction_rolled_back":
        reversed_kind = p.get("reversed_kind")
        if reversed_kind in ("bet", "win"):
            return {f"a:{reversed_kind}:{p['currency']}": -int(p["amount"])}
        return None
    if event.type == "exclusions.register_checked":
        return {"n:rcf": 1} if p.get("outcome") == "error" else None
    if event.type == "exclusions.batch_chunk_failed":
        return {"n:rcf": 1}
    if event.type == "players.login_succeeded":
        return {}
    return None


@subscribe(*COUNTER_TYPES, batch=True)
def dashboards_count_on_event(events: list[Event]) -> None:
    """A batch subscriber: bets and wins are the busiest events there are."""
    increments = []
    for event in events:
        fields = counter_fields(event)
        if fields is None or event.brand_id is None:
            continue
        # A register check's player is not "active"; the others are.
        player_id = None if event.type.startswith("exclusions.") else event.player_id
        increments.append((event.brand_id, event.occurred_at.timestamp(), fields, player_id))

    def count() -> None:
        store = counters.store()
        for brand_id, at, fields, player_id in increments:
            store.add(brand_id=brand_id, at=at, fields=fields, player_id=player_id)

    if increments:
        transaction.on_commit(count, robust=True)


@subscribe("tenants.staff_access_changed")
def dashboards_rescope_on_access_change(event: Event) -> None:
    user_id = event.payload.get("staff_user_id")
    if user_id is None:
        return

    def send() -> None:
        push(user_group_name(user_id), {"type": "dash.rescope"})

    transaction.on_commit(send, robust=True)
