"""Limit periods: calendar (the jurisdiction's local day, ISO week, month) or rolling.

A calendar limit has one running total per period. A rolling limit is summed over
buckets (hours for a day, days for a week or a month, in UTC): its window is the current
bucket and the ones before it, 24 hours, 7 or 30 days. Whole buckets are counted, so a
rolling window is never shorter than its period (the conservative side).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

UTC = ZoneInfo("UTC")
ROLLING_BUCKET = {"day": timedelta(hours=1), "week": timedelta(days=1), "month": timedelta(days=1)}
ROLLING_BUCKETS = {"day": 24, "week": 7, "month": 30}


@dataclass(frozen=True)
class Window:
    """The row the guard writes ([start, end)) and, for rolling limits, where the window begins."""

    start: datetime
    end: datetime
    window_start: datetime  # == start for calendar periods


def calendar_period(period: str, at: datetime, tz: str) -> tuple[datetime, datetime]:
    local = timezone.localtime(at, ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = midnight, midnight + timedelta(days=1)
    elif period == "week":
        start = midnight - timedelta(days=local.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = midnight.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"not a period: {period}")
    # Re-localise: a DST change inside the period moves the end's offset.
    zone = ZoneInfo(tz)
    start = start.replace(tzinfo=None).replace(tzinfo=zone)
    end = end.replace(tzinfo=None).replace(tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _bucket_floor(at: datetime, size: timedelta) -> datetime:
    at = at.astimezone(UTC)
    if size == timedelta(hours=1):
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def window_of(period: str, at: datetime, *, window: str, tz: str) -> Window:
    if window == "rolling":
        size = ROLLING_BUCKET[period]
        start = _bucket_floor(at, size)
        return Window(start, start + size, start - size * (ROLLING_BUCKETS[period] - 1))
    start, end = calendar_period(period, at, tz)
    return Window(start, end, start)


def period_end(period: str, at: datetime, *, window: str, tz: str) -> datetime:
    """When the current period ends (for "not before the current period ends")."""
    if window == "rolling":
        return at
    return calendar_period(period, at, tz)[1]


def add_months(at: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day when it is shorter)."""
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    next_month = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=at.tzinfo)
    last_day = (next_month - timedelta(days=1)).day
    return at.replace(year=year, month=month, day=min(at.day, last_day))
