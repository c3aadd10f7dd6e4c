"""Text search on players with many entries: an index of (player bucket, trigram) keys
(PostgreSQL only; nothing on SQLite).

The (player, trigram) index of 0004 answers a rare word on a player with 100,000 entries
by intersecting that player's postings with trigram lists shared by the whole table (10.8
ms of index reading for one word at 10 million rows). Here each summary's trigrams (pg_trgm's
`show_trgm` of `UPPER(summary)`, as 0004 indexes them) are keyed by the player's bucket,
`player_id % 128`, so a search reads only the lists of its player's bucket. Measured at 10
million rows (README, Benchmarks): one key per player made a 3.2 GB index, 1,024 buckets
2.0 GB, 128 buckets 1.3 GB (9 minutes to build), against the trigram index's 0.5 GB; with
128 the whale's rare word reads 0.4 ms of index and ~1,600 rows (its own and its bucket's
other players'), 2.4 ms in all warm.

`timeline_search_keys(player, summary)` makes a row's keys. `timeline_search_query_keys
(player, text)` makes the keys a search needs: the trigrams of the text's words that lie
inside the text (no word-edge padding, which the text's ends do not tell) and are made of
ASCII letters and digits only, so every summary that contains the text has all of them
(selectors.SearchKeysContain; the LIKE on the row decides). Both are IMMUTABLE like the
functions they call (`upper`, `show_trgm`), whose schema is written into them so that the
index does not depend on anyone's search_path.

Built CONCURRENTLY, as 0004 (not atomic; IF NOT EXISTS makes a retry after an interrupted
build safe, after dropping the INVALID index it left).
"""

from django.db import migrations

TABLE = "timeline_timelineentry"
INDEX = "timeline_search_keys_idx"
BUCKETS = 128


def _forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
        (trgm_schema,) = cursor.fetchone()
    show_trgm = f"{trgm_schema}.show_trgm"
    schema_editor.execute(
        "CREATE OR REPLACE FUNCTION timeline_search_keys(player bigint, summary text) RETURNS text[]"
        " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$"
        f" SELECT array(SELECT mod(player, {BUCKETS})::text || ':' || t"
        f" FROM unnest({show_trgm}(pg_catalog.upper(summary))) AS t) $$"
    )
    schema_editor.execute(
        "CREATE OR REPLACE FUNCTION timeline_search_query_keys(player bigint, search text) RETURNS text[]"
        " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$"
        f" SELECT array(SELECT mod(player, {BUCKETS})::text || ':' || t"
        f" FROM unnest({show_trgm}(pg_catalog.upper(search))) AS t WHERE t ~ '^[a-z0-9]{{3}}$') $$"
    )
    schema_editor.execute(
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "{TABLE}"'
        ' USING gin (timeline_search_keys("player_id", "summary"))'
    )


def _backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')
    schema_editor.execute("DROP FUNCTION IF EXISTS timeline_search_keys(bigint, text)")
    schema_editor.execute("DROP FUNCTION IF EXISTS timeline_search_query_keys(bigint, text)")


class Migration(migrations.Migration):
    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("timeline", "0004_summary_trigram_index")]

    operations = [migrations.RunPython(_forwards, _backwards, elidable=False)]
