"""What each live stream carries, and the one function that turns an outbox event into the
message a page receives, used by the live push and by the catch-up alike (so a message
fetched after a dropped connection is exactly the one the socket would have delivered).

Streams:
- `queue`: the payment review queue, one message per review step of an item;
- `alerts`: rule hits and alerts, limit breaches, exclusion hits, reconciliation
  mismatches, payment incidents, one message per event;
- `ops`: per-brand counters, aggregated (counters.py) and pushed as snapshots at most
  about once a second per brand; no event ids, so no catch-up (a snapshot replaces the
  previous one).

Groups are `dash.<brand_id>.<stream>`: a socket joins only those of the brands its user
may see, so the layer never hands it another brand's message.
"""

from django.contrib.auth import get_user_model

from apps.core.models import Event

QUEUE, ALERTS, OPS = "queue", "alerts", "ops"
STREAMS = (QUEUE, ALERTS, OPS)
# Streams with event ids (pushed one by one, caught up from the outbox).
EVENT_STREAMS = (QUEUE, ALERTS)

# payments event -> what the queue page does with the item.
QUEUE_ACTIONS = {
    "payments.payment_flagged": "upsert",
    "payments.review_unclaimed": "upsert",
    "payments.review_escalated": "upsert",
    "payments.approval_recorded": "upsert",  # one of two approvals: back in the queue
    "payments.review_claimed": "claimed",
    "payments.payment_approved": "leave",
    "payments.payment_rejected": "leave",
    "payments.payment_cancelled": "leave",
    "payments.payment_failed": "leave",
}
QUEUE_TYPES = tuple(QUEUE_ACTIONS)

# alert event -> (kind shown on the feed, severity).
ALERT_KINDS = {
    "rules.alert_raised": ("rule alert", None),  # the rule says its severity
    "rules.rule_fired": ("rule hit", "info"),
    "responsible_gaming.breach_attempted": ("limit breach", "warning"),
    "exclusions.player_excluded_by_register": ("exclusion hit", "high"),
    "wallet.reconciliation_mismatch": ("wallet reconciliation mismatch", "critical"),
    "responsible_gaming.totals_mismatch": ("RG totals mismatch", "critical"),
    "payments.incident_recorded": ("payment incident", "high"),
    "exclusions.batch_chunk_failed": ("register re-check failed", "high"),
}
ALERT_TYPES = tuple(ALERT_KINDS)

STREAM_TYPES = {QUEUE: QUEUE_TYPES, ALERTS: ALERT_TYPES}
STREAM_OF_TYPE = dict.fromkeys(QUEUE_TYPES, QUEUE) | dict.fromkeys(ALERT_TYPES, ALERTS)

# Who may listen to what: the queue is for those who see payments, the rest is the dashboard.
STREAM_PERMISSION = {
    QUEUE: "payments.view_payment",
    ALERTS: "dashboards.view_dashboard",
    OPS: "dashboards.view_dashboard",
}


def group_name(brand_id: int, stream: str) -> str:
    return f"dash.{int(brand_id)}.{stream}"


def user_group_name(user_id: int) -> str:
    return f"dash.user.{int(user_id)}"


def _staff_names(events: list[Event]) -> dict[str, str]:
    """actor label -> username, for the staff actors of these events (one query)."""
    ids = {e.actor.split(":", 1)[1] for e in events if e.actor.startswith("staff:")}
    ids = {int(i) for i in ids if i.isascii() and i.isdigit()}
    if not ids:
        return {}
    users = get_user_model().objects.filter(pk__in=ids).values_list("pk", "username")
    return {f"staff:{pk}": username for pk, username in users}


def _queue_data(event: Event, names: dict[str, str]) -> dict:
    p = event.payload
    data = {
        "action": QUEUE_ACTIONS[event.type],
        "payment_id": p.get("payment_id"),
        "kind": p.get("kind"),
        "status": p.get("status"),
        "amount": p.get("amount"),
        "currency": p.get("currency"),
        "flags": list(p.get("flags") or ()),
        "reason": p.get("reason", ""),
    }
    if event.type == "payments.review_claimed":
        data["claimed_by"] = names.get(event.actor, event.actor)
    return data


def _alert_data(event: Event) -> dict:
    p = event.payload
    kind, severity = ALERT_KINDS[event.type]
    if event.type == "rules.alert_raised":
        severity = p.get("severity") or "warning"
        text = f"{p.get('rule_name', '')}: {p.get('text', '')}"
    elif event.type == "rules.rule_fired":
        text = f"rule {p.get('rule_name', '')} (v{p.get('version', '?')}) on {p.get('trigger_type', '')}"
    elif event.type == "responsible_gaming.breach_attempted":
        text = f"{p.get('action', '')} refused: {p.get('code', '')} ({p.get('rule', '')})"
    elif event.type == "exclusions.player_excluded_by_register":
        text = f"{p.get('register', '')} says excluded ({p.get('purpose', '')})"
    elif event.type == "wallet.reconciliation_mismatch":
        text = f"{p.get('kind', '')}: expected {p.get('expected')}, found {p.get('actual')}"
    elif event.type == "responsible_gaming.totals_mismatch":
        text = f"{p.get('kind', '')} {p.get('period', '')}: recorded {p.get('recorded')}"
        text += f", ledger {p.get('ledger')}"
    elif event.type == "payments.incident_recorded":
        text = f"{p.get('provider', '')} payment {p.get('payment_id')}: {p.get('reason', '')}"
    else:
        text = f"{p.get('register', '')}: chunk {p.get('chunk_index')} of {p.get('players')} players failed"
    return {"kind": kind, "severity": severity, "text": text[:300], "player_id": event.player_id}


def messages_for(events: list[Event]) -> list[dict]:
    """The live messages of these events (those of a stream; others are left out), in order."""
    names = _staff_names([e for e in events if e.type == "payments.review_claimed"])
    out = []
    for event in events:
        stream = STREAM_OF_TYPE.get(event.type)
        if stream is None or event.brand_id is None:
            continue
        data = _queue_data(event, names) if stream == QUEUE else _alert_data(event)
        out.append(
            {
                "stream": stream,
                "id": event.pk,
                "type": event.type,
                "brand_id": event.brand_id,
                "at": event.occurred_at.isoformat(),
                "data": data,
            }
        )
    return out
