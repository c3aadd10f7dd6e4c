"""Text search on one player's timeline from an index (PostgreSQL only; nothing on SQLite).

One GIN index on (player_id, UPPER(summary) gin_trgm_ops): btree_gin indexes the player,
pg_trgm the summary's trigrams, so `q=` on a player with 100,000 entries reads only the
entries that can match (selectors.SummaryContains writes exactly this expression). Built
CONCURRENTLY (the table is written while it builds), so the migration is not atomic; IF
NOT EXISTS makes a retry after an interrupted build safe (an interrupted concurrent build
leaves an INVALID index: drop it, then migrate again).

The index is not declared on the model (a GinIndex there would be created inside the
migration's transaction, blocking writes); `makemigrations` does not know of it.

The player statistics target goes up to 1000 so the planner knows the heaviest players by
name (most-common values) and chooses this index for them and the newest-first btree index
for everyone else.
"""

from django.db import migrations

TABLE = "timeline_timelineentry"
INDEX = "timeline_player_summary_trgm_idx"

FORWARDS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "{TABLE}"'
    ' USING gin ("player_id", (UPPER("summary")) gin_trgm_ops)',
    f'ALTER TABLE "{TABLE}" ALTER COLUMN "player_id" SET STATISTICS 1000',
    f'ANALYZE "{TABLE}"',
]
BACKWARDS = [
    f'ALTER TABLE "{TABLE}" ALTER COLUMN "player_id" SET STATISTICS -1',
    f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"',
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("timeline", "0003_retention_defaults")]

    operations = [migrations.RunPython(_run(FORWARDS), _run(BACKWARDS), elidable=False)]
