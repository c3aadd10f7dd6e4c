"""Reads of the timeline; every staff read goes through the players scoping selector."""

from datetime import datetime

from django.db.models import QuerySet

from apps.players.selectors import players_visible_to
from apps.tenants.selectors import brands_visible_to
from apps.timeline.models import TimelineEntry


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
    player_id = getattr(player, "pk", player)
    entries = TimelineEntry.objects.filter(
        player_id=player_id, player__in=players_visible_to(user).filter(pk=player_id).values("pk")
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
