"""Reads of the dashboards: who may listen to what, and the catch-up from the outbox.

Both the websocket consumer and the catch-up endpoint scope through
`apps.tenants.selectors.brands_visible_to`, the helper every admin list uses.
"""

from datetime import timedelta

from django.db.models import Max

from apps.core.models import Event
from apps.dashboards.streams import (
    ALERT_TYPES,
    ALERTS,
    EVENT_STREAMS,
    STREAM_PERMISSION,
    STREAM_TYPES,
    STREAMS,
    messages_for,
)
from apps.tenants.selectors import brands_visible_to, is_working_staff

CATCHUP_LIMIT = 500


class NotAllowed(Exception):
    """The user may not listen to a requested stream or brand."""


def stream_allowed(user, stream: str) -> bool:
    return stream in STREAMS and is_working_staff(user) and user.has_perm(STREAM_PERMISSION[stream])


def dashboard_scope(user, streams, *, brand_id: int | None = None) -> list[int]:
    """The brand ids whose groups of `streams` this user's socket joins.

    Raises NotAllowed when a stream is unknown or not the user's, or when `brand_id` is
    given and is not one of the user's brands (indistinguishable from a missing brand).
    """
    streams = list(streams)
    if not streams or not all(stream_allowed(user, s) for s in streams):
        raise NotAllowed
    brands = brands_visible_to(user)
    if brand_id is not None:
        brands = brands.filter(pk=brand_id)
    ids = sorted(brands.values_list("pk", flat=True))
    if brand_id is not None and not ids:
        raise NotAllowed
    return ids


def alerts_latest(user, *, limit: int) -> list[dict]:
    """The alerts page's first screen: the newest `limit` alerts of the user's brands, as
    messages, oldest first (the live ones are appended after them)."""
    brand_ids = dashboard_scope(user, [ALERTS])
    latest = list(Event.objects.filter(type__in=ALERT_TYPES, brand_id__in=brand_ids).order_by("-pk")[:limit])
    return messages_for(list(reversed(latest)))


def live_cursor() -> int:
    """The newest event id now: a page rendered now has seen everything up to it."""
    return Event.objects.aggregate(last=Max("id"))["last"] or 0


def catchup(
    user,
    *,
    stream: str,
    after: int,
    overlap_seconds: int = 0,
    brand_id: int | None = None,
    limit: int = CATCHUP_LIMIT,
) -> dict:
    """The stream's messages after event id `after`, in id order, at most `limit`.

    Event ids are assigned at insert and transactions commit in any order, so an event
    with a lower id can become visible after a higher one was pushed. A page that asks
    with `overlap_seconds` also gets the events with ids up to `after` that occurred
    within that many seconds before event `after` did; the page drops the ids it has
    (messages carry their event id), so it shows each once.
    """
    if stream not in EVENT_STREAMS:
        raise NotAllowed
    brand_ids = dashboard_scope(user, [stream], brand_id=brand_id)
    rows = Event.objects.filter(type__in=STREAM_TYPES[stream], brand_id__in=brand_ids)
    lower = after
    if overlap_seconds > 0 and after > 0:
        anchor = (
            Event.objects.filter(pk__lte=after).order_by("-pk").values_list("occurred_at", flat=True).first()
        )
        if anchor is not None:
            # Walk back from `after` (the primary key, newest first) to the first event that
            # occurred before the window: the window's events are what lies between.
            before_window = (
                Event.objects.filter(
                    pk__lte=after, occurred_at__lt=anchor - timedelta(seconds=overlap_seconds)
                )
                .order_by("-pk")
                .values_list("pk", flat=True)
                .first()
            )
            lower = before_window or 0
    events = list(rows.filter(pk__gt=lower).order_by("pk")[: limit + 1])
    more = len(events) > limit
    events = events[:limit]
    messages = messages_for(events)
    return {
        "stream": stream,
        "after": after,
        "messages": messages,
        "last_id": events[-1].pk if events else after,
        "more": more,
    }
