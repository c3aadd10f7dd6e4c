"""Reads of the timeline; every staff read goes through the players scoping selector."""

from datetime import datetime

from django.db.models import BigIntegerField, Q, QuerySet, Value
from django.db.models.functions import Cast

from apps.players.selectors import players_visible_to
from apps.tenants.selectors import brands_visible_to
from apps.timeline.models import ErasureRequest, PurgeRecord, RetentionPolicy, TimelineEntry


def timeline_entries_visible_to(user) -> QuerySet[TimelineEntry]:
    """Entries of the brands this staff user may see (the admin's list of every player).
    By the denormalised brand, the same brands players_visible_to allows, without a join."""
    return TimelineEntry.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def timeline_for(
    user,
    player,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    text: str | None = None,
) -> QuerySet[TimelineEntry]:
    """One player's entries, newest first; empty when the user may not see the player.

    `player` is a Player or its id; `since` is inclusive and `until` exclusive; `text`
    matches the summary, case-insensitively.
    """
    player_id = int(getattr(player, "pk", player))
    entries = TimelineEntry.objects.filter(
        # Typed bigint, as the column is: a bare integer literal is int4, and int8 = int4 is
        # an operator the text search's GIN index (btree_gin, int8 = int8 only) cannot serve.
        player_id=Cast(Value(player_id), BigIntegerField()),
        player__in=players_visible_to(user).filter(pk=player_id).values("pk"),
    )
    if category:
        entries = entries.filter(category=category)
    if since is not None:
        entries = entries.filter(occurred_at__gte=since)
    if until is not None:
        entries = entries.filter(occurred_at__lt=until)
    if text:
        entries = entries.filter(summary__icontains=text)
    return entries.order_by("-occurred_at", "-id")


def retention_policies_visible_to(user) -> QuerySet[RetentionPolicy]:
    """The platform's rows (default and per jurisdiction: they apply to every brand) and the
    rows of the brands this user may see."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return RetentionPolicy.objects.none()
    return RetentionPolicy.objects.filter(
        Q(brand__isnull=True) | Q(brand__in=brands_visible_to(user).values("pk"))
    )


def purge_records_visible_to(user) -> QuerySet[PurgeRecord]:
    return PurgeRecord.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def erasure_requests_visible_to(user) -> QuerySet[ErasureRequest]:
    return ErasureRequest.objects.filter(brand__in=brands_visible_to(user).values("pk"))
