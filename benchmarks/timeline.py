"""Timeline benchmark (a measurement, not a test): how fast is one player's timeline read
with 10 million timeline rows in the table?

    make benchmark-timeline              # or: .venv/bin/python benchmarks/timeline.py
    .venv/bin/python benchmarks/timeline.py --rows 1000000 --samples 50 --help

On PostgreSQL, in a database of its own (dropped and made anew: `pam_bench_timeline`):
three brands (GB/GBP, MT/EUR, SE/SEK) and --players players (100,000), then --rows timeline
entries (10,000,000), each with its outbox event (core_event), written by INSERT ... SELECT
generate_series in SQL with the secondary indexes dropped and made again afterwards. The
rows are skewed like a real player base: 10 "whales" hold 10% of the rows (100,000 entries
each), 100 heavy players another 10% (10,000 each), 1,000 busy players 20% (2,000 each)
and everyone else the remaining 60% (about 60 each). Rows are spread over three years,
interleaved as live delivery writes them (a player's rows are scattered through the
table), in a realistic mix of categories and summaries.

Then it reads timelines the way staff do: GET /api/v1/staff/players/<id>/timeline through
Django's test client (the whole stack in-process: session auth, permission, brand scoping,
filters, DRF's cursor pagination, serialisation; no HTTP server), as a Support agent with
access to all three brands, for a typical, a heavy and a whale player (50, 20 and 10
players of each kind in turn), for: the newest 50, a category (a common and a rare one),
a date range, text search (`q`) for a common, a rare and an absent word,
all filters at once, the second page, and a deep page (page 21) by its cursor. It prints
p50/p95/p99 of the whole request and of the page's SQL statement alone, and writes the
EXPLAIN (ANALYZE, BUFFERS) of every statement for the whale to benchmarks/results/.
The issue's target is under 20 ms p95 for every page; each row says MET or MISS.

Each sample runs the page's SQL statement once untimed, then times the whole request and
then the statement alone (as the request sent it): both figures are of a warm cache. The
first request of each player in a cell is timed apart ("1st"): on this machine the page
cache is reclaimed proactively, so pages not read for a while come from disk again. A cell
stops after --samples or --cell-seconds (with at least 20 samples). Then it
shows where a typical request's time goes (scoping, the page, serialising; a superuser's
request for comparison) and, for information, the admin's list (its paginator counts).

The text search's indexes are made by the migrations and, like every secondary index,
dropped for the fill and made again after it: the trigram index (pg_trgm and btree_gin: one
GIN index on (player, UPPER(summary) gin_trgm_ops), migration timeline 0004) and the search
keys (one GIN index of (player bucket, trigram) keys, 0005, ~11 minutes to build at 10M rows
on a fast 2-core machine), which a rare word on a big timeline reads; a text search first
probes the player's newest entries to tell (one more statement, in the request's time, not
in the statement's). --keep-db leaves the filled database; --reuse-db measures it again
without the fill (migrating it first).
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks import common  # noqa: E402
from benchmarks.common import database_drop, database_recreate, staff_sign_in  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pam_bench_timeline"
RESULTS_DIR = BASE_DIR / "benchmarks" / "results"
TARGET_P95_MS = 20.0
MIN_SAMPLES = 20
SPAN_DAYS = 3 * 365
BRANDS = [("bench-gb", "GB", "GBP"), ("bench-mt", "MT", "EUR"), ("bench-se", "SE", "SEK")]
# (kind, players, share of the rows); the last kind takes every remaining player.
SEGMENTS = [("whale", 10, 0.10), ("heavy", 100, 0.10), ("busy", 1000, 0.20), ("typical", None, 0.60)]
GAMES = [
    "clt_dragonrising",
    "pgp_mahjongways",
    "evo_lightningroulette",
    "prg_sweetbonanza",
    "net_starburst",
    "evo_crazytime",
    "rtg_bonanza",
    "hak_wanted",
    "nlc_mental",
    "pgp_fortunetiger",
]
# A multiplier coprime with any row count made of 2s and 5s: row g's "hash" is a
# permutation of 0..N-1, so players and categories are spread evenly and interleaved.
HASH_A = 2_654_435_761
HASH_B = 40_503
HASH_C = 2_246_822_519

# Migrations timeline 0004 (player, trigram) and 0005 (player bucket, trigram keys).
TEXT_INDEXES = ("timeline_player_summary_trgm_idx", "timeline_search_keys_idx")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_TIMELINE_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="timeline entries in the table")
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=100, help="timed requests per query and player kind")
    parser.add_argument(
        "--warmup", type=int, default=5, help="untimed requests before each cell (after its first requests)"
    )
    parser.add_argument(
        "--cell-seconds",
        type=float,
        default=15,
        help=f"stop a cell's requests (and its SQL) after this long, with at least {MIN_SAMPLES} samples",
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="use the database a --keep-db run left, if it has --rows entries (skips the fill)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.players < 2 * sum(n for _kind, n, _share in SEGMENTS if n):
        parser.error("--players is too small for the segments")
    return args


def environment_set(args: argparse.Namespace) -> None:
    common.environment_set(args.database_url, ALLOWED_HOSTS="testserver")  # Django's test client


# --- the fill --------------------------------------------------------------------------------


def _step(label: str):
    class Step:
        def __enter__(self):
            self.started = time.perf_counter()
            print(f"  {label} ...", end="", flush=True)

        def __exit__(self, *exc):
            if exc[0] is None:
                print(f" {time.perf_counter() - self.started:.1f} s", flush=True)

    return Step()


def fixtures_create():
    """The operator, the three brands and a Support agent who sees all of them."""
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from apps.core.models import Currency
    from apps.tenants.models import Brand, Operator, StaffUser
    from apps.tenants.services import roles_sync

    operator = Operator.objects.create(code="bench", name="Bench", legal_name="Bench Ltd")
    brands = []
    for code, jurisdiction, currency in BRANDS:
        brand = Brand.objects.create(
            operator=operator,
            code=code,
            name=code,
            jurisdiction=jurisdiction,
            default_currency=Currency.objects.get(code=currency),
        )
        brand.currencies.add(Currency.objects.get(code=currency))
        brands.append(brand)
    roles_sync()
    staff = StaffUser.objects.create_user(
        username="bench-support", email="support@example.com", password="x" * 20, is_staff=True
    )
    staff.operator = operator
    staff.save(update_fields=["operator"])
    staff.groups.add(Group.objects.get(name="Support agent"))
    assign_perm("tenants.access_operator", staff, operator)
    return brands, staff


def players_insert(cursor, brands, count: int) -> int:
    """Players 0..count-1 (brand i % 3); returns the id of player 0 (ids are consecutive)."""
    from apps.players.models import Player

    table = Player._meta.db_table
    brand_ids = ",".join(str(b.pk) for b in brands)
    countries = ",".join(f"'{j}'" for _c, j, _cur in BRANDS)
    currencies = ",".join(f"'{cur}'" for _c, _j, cur in BRANDS)
    cursor.execute(
        f"""
        INSERT INTO {table} (brand_id, username, email, password, first_name, last_name,
            date_of_birth, country, address_line, city, postcode, mobile, national_id,
            currency_id, status, status_reason, kyc_status, marketing_opt_in, registered_at)
        SELECT (ARRAY[{brand_ids}])[i % 3 + 1], 'bench' || i, 'bench' || i || '@example.com', '!',
            'Alex', 'Lastname' || i, DATE '1990-05-17', (ARRAY[{countries}])[i % 3 + 1],
            '1 High Street', 'London', 'SW1A 2AA', '+4474' || lpad(i::text, 8, '0'), '',
            (ARRAY[{currencies}])[i % 3 + 1], 'active', '', 'verified', false,
            now() - interval '{SPAN_DAYS} days'
        FROM generate_series(0, {count - 1}) AS i ORDER BY i
        """  # noqa: S608 - our own table and numbers (no parameters: the SQL has % operators)
    )
    cursor.execute(f"SELECT min(id), max(id), count(*) FROM {table}")  # noqa: S608
    first, last, total = cursor.fetchone()
    if total != count or last - first + 1 != count:
        raise SystemExit("player ids are not consecutive; the fill assumes they are")
    return first


def segment_bounds(rows: int, players: int) -> list[dict]:
    """Per kind: its share of the row hash [lo, hi) and its players [first, first + n)."""
    bounds, lo, first = [], 0, 0
    for kind, n, share in SEGMENTS:
        n = n if n is not None else players - first
        hi = rows if kind == SEGMENTS[-1][0] else lo + int(rows * share)
        bounds.append({"kind": kind, "lo": lo, "hi": hi, "first": first, "players": n})
        lo, first = hi, first + n
    return bounds


def _player_index_sql(rows: int, players: int) -> str:
    """SQL for the player index (0-based) of row g, through h = g * A mod rows."""
    cases = " ".join(
        f"WHEN h < {b['hi']} THEN {b['first']} + h % {b['players']}"
        for b in segment_bounds(rows, players)[:-1]
    )
    last = segment_bounds(rows, players)[-1]
    return f"CASE {cases} ELSE {last['first']} + h % {last['players']} END"


# (category, event type, permille upper bound, summary SQL, amount SQL or NULL). `k` is a
# second hash of the row (0..999), `g` the row number, `cur` the brand's currency.
CATEGORY_MIX = [
    (
        "game",
        "games.round_closed",
        430,
        "'Round ' || (ARRAY[{games}])[k % 10 + 1] || ' closed: bet ' || ((k % 50) + 1) || '.00 '"
        " || cur || ', won ' || (k % 7) || '.50'",
        "((k % 7) * 100 + 50) - ((k % 50) + 1) * 100",
    ),
    (
        "game",
        "games.session_opened",
        450,
        "'Game session opened: ' || (ARRAY[{games}])[k % 10 + 1] || ' (hub88)'",
        "NULL",
    ),
    ("login", "players.login_succeeded", 630, "'Logged in'", "NULL"),
    ("login", "players.login_refused", 650, "'Login refused: bad_password'", "NULL"),
    (
        "payment",
        "payments.deposit_completed",
        730,
        "'Deposit completed (card, PIQ-' || g || ')'",
        "((k % 20) + 1) * 1000",
    ),
    (
        "payment",
        "payments.withdrawal_requested",
        780,
        "'Withdrawal requested (bank, PIQ-' || g || ')'",
        "((k % 20) + 1) * 2000",
    ),
    (
        "payment",
        "payments.payment_flagged",
        800,
        "'Payment held for review (card, PIQ-' || g || ') flags: velocity'",
        "((k % 20) + 1) * 1000",
    ),
    ("bonus", "wallet.bonus_changed", 850, "'Bonus granted'", "((k % 5) + 1) * 500"),
    (
        "limit",
        "responsible_gaming.limit_changed",
        890,
        "'week deposit limit ' || ((k % 9) + 1) * 10000 || ' -> ' || ((k % 9) + 2) * 10000 || ' (applied)'",
        "((k % 9) + 2) * 10000",
    ),
    (
        "staff_action",
        "players.profile_changed",
        930,
        "'Profile changed: address_line, city'",
        "NULL",
    ),
    (
        "staff_action",
        "players.status_changed",
        940,
        "'Status active -> suspended: fraud check'",
        "NULL",
    ),
    (
        "register_check",
        "exclusions.register_checked",
        980,
        "(ARRAY['gamstop','spelpaus'])[k % 2 + 1] || ' check (login): N'",
        "NULL",
    ),
    (
        "exclusion",
        "responsible_gaming.exclusion_started",
        990,
        "'Time out started (all) until 2026-01-0' || (k % 9 + 1) || 'T00:00:00+00:00'",
        "NULL",
    ),
    ("registration", "players.profile_changed", 1000, "'Profile changed: mobile'", "NULL"),
]


def _case(column: int) -> str:
    games = ",".join(f"'{g}'" for g in GAMES)
    whens = " ".join(f"WHEN p < {mix[2]} THEN {mix[column].format(games=games)}" for mix in CATEGORY_MIX)
    return f"CASE {whens} END"


def _case_literal(column: int) -> str:
    whens = " ".join(f"WHEN p < {mix[2]} THEN '{mix[column]}'" for mix in CATEGORY_MIX)
    return f"CASE {whens} END"


def rows_source_sql(args, brands, first_player: int, start: int, stop: int) -> str:
    """A SELECT of rows start..stop-1: g, player id, brand id, occurred_at, category, event
    type, summary, amount, currency (bound in this order)."""
    brand_ids = ",".join(str(b.pk) for b in brands)
    currencies = ",".join(f"'{cur}'" for _c, _j, cur in BRANDS)
    step_us = SPAN_DAYS * 86_400_000_000 // args.rows
    return f"""
        SELECT g, {first_player} + pi AS player_id, (ARRAY[{brand_ids}])[pi % 3 + 1] AS brand_id,
            base + make_interval(secs => (g::bigint * {step_us} + (h % 300) * 1000000) / 1e6) AS occurred_at,
            {_case_literal(0)} AS category, {_case_literal(1)} AS type,
            {_case(3)} AS summary, {_case(4)} AS amount, cur
        FROM (
            SELECT g, h, k, p, pi, (ARRAY[{currencies}])[pi % 3 + 1] AS cur, base
            FROM (
                SELECT g, h, (g * {HASH_B}) % 1000 AS k, (g * {HASH_C}) % 1000003 % 1000 AS p,
                    {_player_index_sql(args.rows, args.players)} AS pi,
                    now() - interval '{SPAN_DAYS} days' AS base
                FROM (SELECT g, (g * {HASH_A}::bigint) % {args.rows} AS h
                      FROM generate_series({start}::bigint, {stop - 1}::bigint) AS g) AS numbered
            ) AS hashed
        ) AS rows
    """  # noqa: S608 - numbers and our own constants


def _secondary_indexes(cursor, table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(unique constraints as (name, definition), other non-primary indexes as (name, DDL))."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'u'",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " WHERE i.tablename = %s AND i.indexname NOT IN"
        " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u'))",
        [table, table],
    )
    return constraints, cursor.fetchall()


def fill(args, brands) -> dict:
    """Players, events and timeline entries, in SQL; returns the segments (with player ids)."""
    from django.db import connection

    from apps.core.models import Event
    from apps.timeline.models import TimelineEntry

    entry_table, event_table = TimelineEntry._meta.db_table, Event._meta.db_table
    event_field = TimelineEntry._meta.get_field("event")
    with_events = event_field.is_relation
    tables = [entry_table] + ([event_table] if with_events else [])
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        # Foreign keys are not checked row by row during the fill (the rows are consistent
        # by construction); the constraints stay, as migrated.
        cursor.execute("SET session_replication_role = replica")
        with _step(f"{args.players:,} players"):
            first_player = players_insert(cursor, brands, args.players)
        saved = {}
        for table in tables:
            constraints, indexes = _secondary_indexes(cursor, table)
            saved[table] = (constraints, indexes)
            for name, _definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _ddl in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        chunk = 1_000_000
        for start in range(0, args.rows, chunk):
            stop = min(start + chunk, args.rows)
            with _step(f"rows {start:,}..{stop:,}"):
                source = rows_source_sql(args, brands, first_player, start, stop)
                if with_events:
                    cursor.execute(
                        f"""INSERT INTO {event_table} (id, type, brand_id, player_id, payload, occurred_at,
                                correlation_id, actor, dispatched_at)
                            SELECT g + 1, type, brand_id, player_id, '{{}}'::jsonb, occurred_at, '',
                                'system:bench', occurred_at FROM ({source}) AS s"""  # noqa: S608
                    )
                event_column = event_field.column
                cursor.execute(
                    f"""INSERT INTO {entry_table} (id, player_id, brand_id, occurred_at, category, summary,
                            amount, currency, source_type, source_id, actor, {event_column}, created_at)
                        SELECT g + 1, player_id, brand_id, occurred_at, category, summary, amount,
                            CASE WHEN amount IS NULL THEN '' ELSE cur END, '', NULL, 'system:bench',
                            g + 1, occurred_at
                        FROM ({source}) AS s"""  # noqa: S608
                )
        for table in tables:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [args.rows])
            constraints, indexes = saved[table]
            with _step(f"indexes of {table} ({len(constraints) + len(indexes)})"):
                for name, definition in constraints:
                    cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                for _name, ddl in indexes:
                    cursor.execute(ddl)
        cursor.execute("SET session_replication_role = DEFAULT")
    connection.close()  # VACUUM cannot run in the connection's transaction state; start afresh
    with connection.cursor() as cursor:
        for table in tables:
            with _step(f"VACUUM ANALYZE {table}"):
                cursor.execute(f"VACUUM (ANALYZE) {table}")
    return {"first_player": first_player}


def table_sizes() -> list[tuple[str, int, str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_table_size(c.oid)),
                      pg_size_pretty(pg_indexes_size(c.oid))
               FROM pg_class c WHERE c.relname IN ('timeline_timelineentry', 'core_event')
               ORDER BY c.relname DESC"""
        )
        return cursor.fetchall()


# --- the measurement -------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def cohort(first_player: int, args, kind: str, size: int) -> list[int]:
    """`size` player ids of a kind, picked at random (seeded)."""
    bounds = next(b for b in segment_bounds(args.rows, args.players) if b["kind"] == kind)
    rng = random.Random(f"{kind}-{size}")
    picks = rng.sample(range(bounds["players"]), min(size, bounds["players"]))
    return [first_player + bounds["first"] + i for i in picks]


def _url(player_id: int) -> str:
    return f"/api/v1/staff/players/{player_id}/timeline"


def queries(now) -> list[tuple[str, dict]]:
    """(name, query parameters) of each read measured; cursors are filled in per player."""
    month_from = (now - timedelta(days=400)).isoformat()
    month_to = (now - timedelta(days=370)).isoformat()
    return [
        ("newest 50", {}),
        ("category=payment", {"category": "payment"}),
        ("category=exclusion (rare)", {"category": "exclusion"}),
        ("date range (a month)", {"from": month_from, "to": month_to}),
        ("q=deposit (common)", {"q": "deposit"}),
        ("q=suspended (rare)", {"q": "suspended"}),
        ("q=PIQ-999999999 (absent)", {"q": "PIQ-999999999"}),
        ("category+range+q", {"category": "payment", "from": month_from, "to": month_to, "q": "card"}),
        ("second page", {"page": 2}),
        ("page 21 (deep)", {"page": 21}),
    ]


def cursor_for(client, player_id: int, page: int) -> dict | None:
    """The query parameters of the player's `page`-th page (following `next`), or None."""
    params: dict = {}
    for _ in range(page - 1):
        body = client.get(_url(player_id), params).json()
        if not body.get("next"):
            return None
        params = {k: v[0] for k, v in parse_qs(urlsplit(body["next"]).query).items()}
    return params


def main_statement(client, player_id: int, params: dict) -> tuple[str, int]:
    """The page's SQL (the statement on the timeline table), its parameters and how many
    statements the whole request ran."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(_url(player_id), params)
    assert response.status_code == 200, response.content
    pages = [q["sql"] for q in captured.captured_queries if 'FROM "timeline_timelineentry"' in q["sql"]]
    if len(pages) != 1:
        raise SystemExit(f"expected one statement on the timeline table, got {len(pages)}")
    return pages[0], len(captured.captured_queries)


def time_cell(client, players: list[int], params_of, args) -> dict:
    """Per sample (rotating over `players`): the page's SQL statement untimed (so the pages
    it reads are cached), then the whole request timed, then the statement alone timed: both
    figures are of a warm cache. The first request of each player, before any of that, is
    timed too ("first touch": whatever of its pages the machine had evicted is read again).
    Stops after --samples, or after --cell-seconds with at least MIN_SAMPLES."""
    from django.db import connection

    plan = [(pid, params_of(pid)) for pid in players]
    plan = [(pid, params) for pid, params in plan if params is not None]
    if not plan:
        return {}
    first_ms = []
    for pid, params in plan:
        started = time.perf_counter()
        client.get(_url(pid), params)
        first_ms.append((time.perf_counter() - started) * 1000)
    for i in range(args.warmup):
        pid, params = plan[i % len(plan)]
        client.get(_url(pid), params)
    statements = [main_statement(client, pid, params) for pid, params in plan]
    request_ms, sql_ms, rows = [], [], []
    deadline = time.perf_counter() + args.cell_seconds
    with connection.cursor() as cursor:
        for i in range(args.samples):
            if i >= MIN_SAMPLES and time.perf_counter() > deadline:
                break
            (pid, params), (sql, _count) = plan[i % len(plan)], statements[i % len(plan)]
            cursor.execute(sql)
            cursor.fetchall()
            started = time.perf_counter()
            response = client.get(_url(pid), params)
            request_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
            rows.append(len(response.json()["results"]))
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            sql_ms.append((time.perf_counter() - started) * 1000)
    return {
        "request": _summary(request_ms),
        "sql": _summary(sql_ms),
        "first_touch": {"p50": statistics.median(first_ms), "max": max(first_ms)},
        "samples": len(request_ms),
        "statements_per_request": statements[0][1],
        "rows_per_page": statistics.median(rows),
        "example_sql": statements[0][0],
    }


def _summary(values: list[float]) -> dict:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "p99": percentile(values, 99)}


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def measure(args, client, first_player: int, label: str) -> list[dict]:
    from django.utils import timezone

    cohorts = {
        "typical": cohort(first_player, args, "typical", 50),
        "heavy": cohort(first_player, args, "heavy", 20),
        "whale": cohort(first_player, args, "whale", 10),
    }
    sizes = {kind: _entries_of(ids[0]) for kind, ids in cohorts.items()}
    print(
        f"\n[{label}] players: "
        + ", ".join(f"{kind} ~{sizes[kind]:,} entries ({len(ids)} rotated)" for kind, ids in cohorts.items())
    )
    print(
        f"{'query':<28} {'player':<8} {'rows':>4} {'stmts':>5} {'n':>4}"
        f" {'request p50/p95/p99 ms':>24} {'SQL p50/p95/p99 ms':>22} {'1st p50/max':>13}"
        f"  p95 < {TARGET_P95_MS:.0f} ms (request/SQL)"
    )
    results, plans = [], []
    for name, params in queries(timezone.now()):
        for kind, ids in cohorts.items():
            page = params.get("page")
            if page:
                cursors = {pid: cursor_for(client, pid, page) for pid in ids}

                def params_of(pid, cursors=cursors):
                    return cursors[pid]
            else:

                def params_of(pid, params=params):
                    return params

            cell = time_cell(client, ids, params_of, args)
            if not cell:
                print(f"{name:<28} {kind:<8}  (no such page)")
                continue
            req, sql = cell["request"], cell["sql"]
            met = "/".join("MET" if x["p95"] < TARGET_P95_MS else "MISS" for x in (req, sql))
            print(
                f"{name:<28} {kind:<8} {cell['rows_per_page']:>4.0f} {cell['statements_per_request']:>5}"
                f" {cell['samples']:>4}"
                f" {req['p50']:>8.1f}/{req['p95']:>6.1f}/{req['p99']:>6.1f}"
                f" {sql['p50']:>8.2f}/{sql['p95']:>6.2f}/{sql['p99']:>6.2f}"
                f" {cell['first_touch']['p50']:>6.0f}/{cell['first_touch']['max']:>6.0f}  {met}",
                flush=True,
            )
            if kind == "whale":
                plans.append(
                    f"-- {label}: {name} ({kind})\n{cell['example_sql']}\n{explain(cell['example_sql'])}\n"
                )
            results.append({"label": label, "query": name, "player": kind, **cell})
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"timeline-plans-{label}.txt"
    path.write_text("\n".join(plans))
    print(f"plans of the whale's statements: {path.relative_to(BASE_DIR)}")
    return results


def overhead_probe(client, staff, first_player: int, args) -> None:
    """Where a request's time goes, for a typical player's newest 50 (medians of 200)."""
    from rest_framework.test import APIClient

    from apps.core.request_cache import request_cache_close, request_cache_open
    from apps.players.selectors import players_visible_to
    from apps.tenants.models import StaffUser
    from apps.timeline.api.serializers import TimelineEntrySerializer
    from apps.timeline.models import TimelineEntry
    from apps.timeline.selectors import timeline_for

    player_id = cohort(first_player, args, "typical", 1)[0]
    user = StaffUser.objects.get(pk=staff.pk)
    user.has_perm("timeline.view_timelineentry")  # the permission cache, as a request has it
    root, _ = StaffUser.objects.get_or_create(
        username="bench-root", defaults={"is_staff": True, "is_superuser": True, "email": "root@example.com"}
    )
    root_client = APIClient()
    staff_sign_in(root_client, root)
    page = list(timeline_for(user, player_id)[:51])

    def median_ms(fn, n=200) -> float:
        for _ in range(10):
            fn()
        times = []
        for _ in range(n):
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    def in_request(fn):
        """As in a request: the visible brands worked out once (the request's memo)."""

        def run():
            token = request_cache_open()
            try:
                return fn()
            finally:
                request_cache_close(token)

        return run

    parts = [
        ("the whole request (Support agent)", lambda: client.get(_url(player_id))),
        (
            "the whole request (superuser: scoping is Brand.objects.all())",
            lambda: root_client.get(_url(player_id)),
        ),
        (
            "the view's visibility check (players_visible_to ... exists())",
            in_request(lambda: players_visible_to(user).filter(pk=player_id).exists()),
        ),
        (
            "the page through timeline_for (scoped; built, compiled, run)",
            in_request(lambda: list(timeline_for(user, player_id)[:51])),
        ),
        (
            "the visibility check and the page, in one request's memo",
            in_request(
                lambda: (
                    players_visible_to(user).filter(pk=player_id).exists(),
                    list(timeline_for(user, player_id)[:51]),
                )
            ),
        ),
        (
            "the same page unscoped (TimelineEntry.objects.filter)",
            lambda: list(
                TimelineEntry.objects.filter(player_id=player_id).order_by("-occurred_at", "-id")[:51]
            ),
        ),
        ("serialising 50 entries", lambda: TimelineEntrySerializer(page[:50], many=True).data),
    ]
    print("\nwhere a request's time goes (a typical player's newest 50; medians of 200):")
    for label, fn in parts:
        print(f"  {label:<64} {median_ms(fn):6.2f} ms")


def _entries_of(player_id: int) -> int:
    from apps.timeline.models import TimelineEntry

    return TimelineEntry.objects.filter(player_id=player_id).count()


def admin_probe(staff, first_player: int, args) -> None:
    """The admin's list (a whale's entries, and every entry): its paginator counts at most
    CappedCountPaginator.COUNT_CAP rows, so neither reads the whole list to count it."""
    from django.test import Client, override_settings

    client = Client()
    staff_sign_in(client, staff)
    whale = cohort(first_player, args, "whale", 1)[0]
    # Plain static storage: the admin's pages name static files, and nothing was collected.
    plain = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    for name, path in [
        ("admin list, a whale's entries", f"/admin/timeline/timelineentry/?player={whale}"),
        ("admin list, every entry", "/admin/timeline/timelineentry/"),
    ]:
        times = []
        with override_settings(STORAGES=plain):
            for _ in range(3):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.status_code
        print(f"{name:<34} median of 3: {statistics.median(times):8.1f} ms (informational)")


def main(argv=None) -> int:
    args = parse_args(argv)
    environment_set(args)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections
    from rest_framework.test import APIClient

    from apps.tenants.models import Brand, StaffUser
    from apps.timeline.models import TimelineEntry

    load = os.getloadavg()
    print(
        f"timeline benchmark on {os.cpu_count()} cores; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
        f"database {args.database_url}; {args.rows:,} entries over {args.players:,} players;"
        f" {args.samples} samples per cell (+{args.warmup} warm-up)"
    )
    reused = False
    if args.reuse_db:
        try:
            reused = TimelineEntry.objects.count() == args.rows
        except Exception:  # noqa: BLE001 - no such database or table: fill it
            reused = False
        connections.close_all()
    try:
        if reused:
            print("reusing the filled database (--reuse-db): migrate")
            with _step("migrate"):
                call_command("migrate", verbosity=0, interactive=False)
            brands = list(Brand.objects.filter(code__in=[b[0] for b in BRANDS]).order_by("pk"))
            staff = StaffUser.objects.get(username="bench-support")
            from apps.players.models import Player

            first_player = (
                Player.objects.filter(brand__in=brands).order_by("pk").values_list("pk", flat=True)[0]
            )
        else:
            database_recreate(args.database_url)
            print("fill:")
            started = time.perf_counter()
            with _step("migrate"):
                call_command("migrate", verbosity=0, interactive=False)
            brands, staff = fixtures_create()
            first_player = fill(args, brands)["first_player"]
            print(f"  fill total {time.perf_counter() - started:.0f} s")
        for name, tuples, table_size, index_size in table_sizes():
            print(f"  {name}: ~{tuples:,} rows, table {table_size}, indexes {index_size}")
        for index in TEXT_INDEXES:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_size_pretty(pg_relation_size(c.oid)), i.indisvalid FROM pg_class c"
                    " JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = %s",
                    [index],
                )
                found = cursor.fetchone()
            if not found or not found[1]:
                raise SystemExit(f"the text search's index {index} is missing or invalid: migrate")
            print(f"  {index}: {found[0]}")
        client = APIClient()
        staff_sign_in(client, staff)
        results = measure(args, client, first_player, "as-migrated")
        overhead_probe(client, staff, first_player, args)
        admin_probe(staff, first_player, args)
        missed = [r for r in results if r["request"]["p95"] >= TARGET_P95_MS]
        print(
            f"\ntarget p95 < {TARGET_P95_MS:.0f} ms: {len(results) - len(missed)} of {len(results)} cells met"
        )
        if args.json:
            Path(args.json).write_text(
                json.dumps([{k: v for k, v in r.items() if k != "example_sql"} for r in results], indent=2)
            )
        return 0
    finally:
        connections.close_all()
        if not args.keep_db:
            database_drop(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
