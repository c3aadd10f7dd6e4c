"""Reads of the timeline; every staff read goes through the players scoping selector."""

from datetime import datetime

from django.db.models import Expression, Field, Func, Q, QuerySet
from django.db.models.fields import BigIntegerField, BooleanField

from apps.players.selectors import players_visible_to
from apps.tenants.selectors import brand_ids_visible_to, brands_visible_to, is_working_staff
from apps.timeline.models import ErasureRequest, PurgeRecord, RetentionPolicy, TimelineEntry


class WrittenBigint(Expression):
    """An integer written into the SQL as a bigint constant (`123::bigint`), not sent as a
    parameter.

    Two reasons, both about the text search's GIN index on (player_id, UPPER(summary)):
    btree_gin has only int8 = int8, so a bare literal (int4) cannot use it; and with
    server-side binding a parameter lets PostgreSQL switch a prepared statement to a
    generic plan after five runs, one plan for a whale and for a player with 20 entries. A
    constant is planned with the player's statistics (the column's target is 1000, so the
    heaviest players are known by id). Safe to write: it is an int, formatted as digits.
    """

    output_field = BigIntegerField()

    def __init__(self, value: int):
        super().__init__()
        self.value = int(value)

    def as_sql(self, compiler, connection):
        return str(self.value), []

    def as_postgresql(self, compiler, connection):
        return f"{self.value}::bigint", []


class SummaryContains(Func):
    """`summary` contains `text`, case-insensitively, as a condition PostgreSQL can answer
    from the trigram index (migration 0004): `UPPER(summary) LIKE UPPER('%text%')`.

    The pattern is written into the SQL as a quoted literal (psycopg quotes it; the text's
    % _ and \\ are escaped, so they match themselves), so the planner always sees the
    constant: it extracts its trigrams and weighs the index against the player's
    newest-first index for this word. As a parameter of a prepared statement, PostgreSQL may
    switch to a generic plan after five runs, chosen without the word. Elsewhere (SQLite)
    it is Django's `icontains`.
    """

    output_field: Field = BooleanField()
    arity = 1

    def __init__(self, text: str):
        super().__init__("summary")
        self.text = str(text)

    def as_sql(self, compiler, connection, **extra_context):
        lookup = TimelineEntry._meta.get_field("summary").get_lookup("icontains")
        column = self.source_expressions[0]
        return compiler.compile(lookup(column, self.text))

    def as_postgresql(self, compiler, connection, **extra_context):
        from psycopg import sql as psycopg_sql

        column, params = compiler.compile(self.source_expressions[0])
        escaped = self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        connection.ensure_connection()
        literal = psycopg_sql.quote(f"%{escaped}%", connection.connection)
        # The compiled SQL goes through psycopg's %-formatting with the query's parameters:
        # a literal % is written %%.
        return f"UPPER({column}) LIKE UPPER({literal.replace('%', '%%')})", params


def timeline_entries_visible_to(user) -> QuerySet[TimelineEntry]:
    """Entries of the brands this staff user may see (the admin's list of every player).
    By the denormalised brand, the same brands players_visible_to allows, without a join,
    and as a list of ids: with a subquery PostgreSQL cannot tell how many rows the brands
    keep, and counts a whale's 1,000 newest entries by reading all of them."""
    return TimelineEntry.objects.filter(brand_id__in=brand_ids_visible_to(user))


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
    matches the summary, case-insensitively (% and _ match themselves).
    """
    player_id = int(getattr(player, "pk", player))
    entries = TimelineEntry.objects.filter(
        player_id=WrittenBigint(player_id),
        player__in=players_visible_to(user).filter(pk=player_id).values("pk"),
    )
    if category:
        entries = entries.filter(category=category)
    if since is not None:
        entries = entries.filter(occurred_at__gte=since)
    if until is not None:
        entries = entries.filter(occurred_at__lt=until)
    if text:
        entries = entries.filter(SummaryContains(text))
    return entries.order_by("-occurred_at", "-id")


def retention_policies_visible_to(user) -> QuerySet[RetentionPolicy]:
    """The platform's rows (default and per jurisdiction: they apply to every brand) and the
    rows of the brands this user may see."""
    if not is_working_staff(user):
        return RetentionPolicy.objects.none()
    return RetentionPolicy.objects.filter(
        Q(brand__isnull=True) | Q(brand__in=brands_visible_to(user).values("pk"))
    )


def purge_records_visible_to(user) -> QuerySet[PurgeRecord]:
    return PurgeRecord.objects.filter(brand__in=brands_visible_to(user).values("pk"))


def erasure_requests_visible_to(user) -> QuerySet[ErasureRequest]:
    return ErasureRequest.objects.filter(brand__in=brands_visible_to(user).values("pk"))
