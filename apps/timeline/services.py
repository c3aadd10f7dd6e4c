"""Writes of the timeline: record one event's entry, rebuild entries from the outbox.

Both go through retention.entries_admitted: what retention or an erasure removed stays
removed, and an erased player's entries are written without their free text, whichever
way (live or rebuild) they arrive.
"""

from apps.core.models import Event
from apps.timeline.models import TimelineEntry
from apps.timeline.projection import MAPPED_TYPES
from apps.timeline.retention import entries_admitted

REBUILD_BATCH = 1000


def timeline_entries_record(*, events: list[Event]) -> None:
    """Add the events' entries (those that have one) in one statement. Idempotent by event:
    INSERT ... ON CONFLICT DO NOTHING on the unique event, so a repeat (or a rebuild that got
    there first) adds nothing."""
    entries = entries_admitted(events)
    if entries:
        TimelineEntry.objects.bulk_create(entries, ignore_conflicts=True)


def timeline_rebuild(*, player_id: int | None = None, batch_size: int = REBUILD_BATCH) -> int:
    """Replay the outbox (in id order, a batch at a time) through the live mapping; returns
    how many entries were added. Entries that exist are left alone (ON CONFLICT DO NOTHING),
    so a rebuild can run while live delivery goes on, and running it twice adds nothing.
    Each batch commits on its own: an interrupted rebuild resumes by running again.
    Entries retention removed are not brought back (retention.entries_admitted)."""
    events = Event.objects.filter(type__in=MAPPED_TYPES, player_id__isnull=False)
    if player_id is not None:
        events = events.filter(player_id=player_id)
    before = _count(player_id)
    last_id = 0
    while True:
        batch = list(events.filter(pk__gt=last_id).order_by("pk")[:batch_size])
        if not batch:
            break
        last_id = batch[-1].pk
        entries = entries_admitted(batch)
        TimelineEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return _count(player_id) - before


def _count(player_id: int | None) -> int:
    entries = TimelineEntry.objects.all()
    if player_id is not None:
        entries = entries.filter(player_id=player_id)
    return entries.count()
