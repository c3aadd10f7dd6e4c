"""The timeline's subscription: every mapped event becomes (at most) one entry.

Idempotent twice over: the outbox skips a delivery that already committed, and the entry's
unique event makes a repeat an INSERT that does nothing (a handler called again by hand, a
rebuild racing live delivery). A batch subscriber: a relay's batch is one INSERT.
"""

from apps.core.events import subscribe
from apps.core.models import Event
from apps.timeline.projection import MAPPED_TYPES
from apps.timeline.services import timeline_entries_record


@subscribe(*MAPPED_TYPES, batch=True)
def timeline_entry_on_event(events: list[Event]) -> None:
    timeline_entries_record(events=events)
