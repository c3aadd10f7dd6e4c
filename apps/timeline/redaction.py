"""An entry without the free text of its event: what a GDPR erasure leaves on the timeline.

Projection summaries never carry names, e-mails or IPs (projection.py), but some carry text
that people typed: a status change's or an adjustment's reason, a payment's rejection
reason. Such text may name the player, so an erased player's kept entries are rebuilt
from their event with those payload values replaced by ERASED_TEXT. Everything else stays:
amounts, currencies, dates, references, codes and actor labels (ids such as player:12 or
staff:3, never names) are the record the law requires be kept.

Rebuilding through the projection, rather than editing the stored summary, keeps erased
entries identical whichever way they were written (live, rebuild, erasure), and keeps up
with new mappings on their own.
"""

from apps.core.models import Event
from apps.timeline.models import TimelineEntry
from apps.timeline.projection import entry_from_event

ERASED_TEXT = "[erased]"
# Payload keys whose values are free text or personal data (never amounts or codes).
FREE_TEXT_KEYS = frozenset(
    {
        "reason",
        "note",
        "notes",
        "comment",
        "message",
        "ip",
        "email",
        "name",
        "first_name",
        "last_name",
        "mobile",
        "address",
        "address_line",
        "postcode",
        "national_id",
        "date_of_birth",
    }
)


def payload_redacted(payload: dict) -> dict:
    """The payload with every non-empty free-text value replaced by ERASED_TEXT."""
    return {
        key: (ERASED_TEXT if key in FREE_TEXT_KEYS and value not in (None, "", [], {}) else value)
        for key, value in (payload or {}).items()
    }


def entry_redacted(event: Event) -> TimelineEntry | None:
    """The unsaved entry of `event` as an erased player's timeline shows it (None when the
    event has no entry). The stored event is not changed."""
    scrubbed = Event(
        pk=event.pk,
        type=event.type,
        brand_id=event.brand_id,
        player_id=event.player_id,
        payload=payload_redacted(event.payload),
        occurred_at=event.occurred_at,
        actor=event.actor,
    )
    return entry_from_event(scrubbed)
