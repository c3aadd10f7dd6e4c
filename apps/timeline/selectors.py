"""Reads of the timeline; every staff read goes through the players scoping selector."""

from datetime import datetime

from django.db import connection
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
        column, params = compiler.compile(self.source_expressions[0])
        return f"UPPER({column}) LIKE UPPER({_sql_literal(like_pattern(self.text), connection)})", params


def like_pattern(text: str) -> str:
    """`%text%` for LIKE, with the text's % _ and \\ escaped so that they match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _sql_literal(value: str, connection) -> str:
    """`value` quoted by psycopg as an SQL string constant, ready to sit in compiled SQL: that
    goes through psycopg's %-formatting with the query's parameters, so % is written %%."""
    from psycopg import sql as psycopg_sql

    connection.ensure_connection()
    return psycopg_sql.quote(value, connection.connection).replace("%", "%%")


# A text search on a big timeline: the (player bucket, trigram) keys (migration 0005) find
# the entries that can contain a rare word without walking the player's entries. A common
# word is found sooner newest first, so the keys are used only when the player's newest
# entries show the word rare: fewer than SEARCH_COMMON_MATCHES in SEARCH_PROBE_ROWS.
SEARCH_PROBE_ROWS = 200
SEARCH_COMMON_MATCHES = 6
_ASCII_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_SEARCH_PROBE = (
    "SELECT count(*), count(*) FILTER (WHERE UPPER(summary) LIKE UPPER(%s)) FROM ("
    " SELECT summary FROM timeline_timelineentry WHERE player_id = %s"
    " ORDER BY occurred_at DESC, id DESC LIMIT %s) AS newest"
)


class SearchKeysContain(Func):
    """The player's entries whose `summary` contains `text`, answered from the (player
    bucket, trigram) keys (migration 0005) on PostgreSQL: `timeline_search_keys(player_id,
    summary) @> timeline_search_query_keys(player, 'text')`, the left side exactly the
    index's expression, the right side constants that PostgreSQL folds when it plans. Every
    entry whose summary contains the text has those keys; the player and the LIKE beside
    them decide. Those two are written `player_id + 0` and `UPPER(summary) || ''` on purpose,
    so no other index can answer them: PostgreSQL otherwise reads the (player, trigram)
    index of 0004 for an absent word (14-17 ms for a player with 100,000 entries, against
    0.2 ms of these keys), or ANDs the keys with all 100,000 of the player's postings (10 ms)."""

    output_field: Field = BooleanField()
    arity = 2

    def __init__(self, player_id: int, text: str):
        super().__init__("player_id", "summary")
        self.player_id = int(player_id)
        self.text = str(text)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError("the search keys exist on PostgreSQL only")

    def as_postgresql(self, compiler, connection, **extra_context):
        player, player_params = compiler.compile(self.source_expressions[0])
        summary, summary_params = compiler.compile(self.source_expressions[1])
        text = _sql_literal(self.text, connection)
        pattern = _sql_literal(like_pattern(self.text), connection)
        sql = (
            f"(timeline_search_keys({player}, {summary})"
            f" @> timeline_search_query_keys({self.player_id}::bigint, {text})"
            f" AND ({player} + 0) = {self.player_id}::bigint"
            f" AND (UPPER({summary}) || '') LIKE UPPER({pattern}))"
        )
        return sql, [*player_params, *summary_params, *player_params, *summary_params]


def _has_search_keys(text: str) -> bool:
    """Does the text give the index a key: three ASCII letters or digits in a row? (What
    timeline_search_query_keys keeps; a search without one would read the whole index.)"""
    return any(all(c in _ASCII_WORD_CHARS for c in text[i : i + 3]) for i in range(len(text) - 2))


def _search_by_keys(player_id: int, text: str) -> bool:
    """Should this player's search read the search keys? On PostgreSQL, for a text that has
    keys, on a player with at least SEARCH_PROBE_ROWS entries whose newest
    SEARCH_PROBE_ROWS hold the text fewer than SEARCH_COMMON_MATCHES times (one statement
    over the newest-first index: ~0.6 ms on a player with 100,000 entries)."""
    if connection.vendor != "postgresql" or not _has_search_keys(text):
        return False
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH_PROBE, [like_pattern(text), player_id, SEARCH_PROBE_ROWS])
        rows, matches = cursor.fetchone()
    return rows >= SEARCH_PROBE_ROWS and matches < SEARCH_COMMON_MATCHES


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
    visible = players_visible_to(user).filter(pk=player_id)
    if text and _search_by_keys(player_id, text):
        # The player and the text together, answered from the search keys alone: the
        # visibility is asked first, not joined, because a join on the player gives
        # PostgreSQL's generic plan of the prepared statement a road through all the
        # player's entries (10 ms for 100,000 of them, against 0.5 ms).
        if not visible.exists():
            return TimelineEntry.objects.none()
        entries = TimelineEntry.objects.filter(SearchKeysContain(player_id, text))
    else:
        entries = TimelineEntry.objects.filter(
            player_id=WrittenBigint(player_id), player__in=visible.values("pk")
        )
        if text:
            entries = entries.filter(SummaryContains(text))
    if category:
        entries = entries.filter(category=category)
    if since is not None:
        entries = entries.filter(occurred_at__gte=since)
    if until is not None:
        entries = entries.filter(occurred_at__lt=until)
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
