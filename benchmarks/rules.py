"""BeAware rule engine benchmark (a measurement, not a test): how many events per second
does one worker process put through 100 enabled rules, and how long does a backtest of one
rule over a million events take?

    make benchmark-rules              # or: .venv/bin/python benchmarks/rules.py
    .venv/bin/python benchmarks/rules.py --events 2000 --history 200000 --help

On PostgreSQL, in a database of its own (dropped and made anew: `pam_bench_rules`), with
Celery eager (no broker): one GB brand (GBP, Europe/London), --players players (10,000)
and a compliance officer who writes --rules rules (100) through `apps.rules.services`
(`rule_create`, then `rule_enabled_set`): triggers spread over bets, wins, completed and
failed deposits and logins; conditions that mix event fields with windowed aggregates
(sum, count, avg, max, median, net_loss, night_count over 1 hour to 30 days); actions
flag, review task and alert (one inbox message); cooldowns of 1 hour to 7 days.

The history is --history outbox events (1,000,000) over --days days (30), written by
INSERT ... SELECT generate_series: bets and wins dominate, then logins, deposits and failed
payments (deposits and withdrawals), amounts in minor units of GBP; players are skewed as
a real base is (a few play a lot: the busiest holds about 1% of the bets). The engine's
facts (rules_fact) are derived from those events in SQL, the way the live engine would have
stored them (a sample is checked against `catalogue.fact_from_event`), so the live
aggregates read a month of real history and the backtest reads the same events.

Live: events after the history (same mix and players), inserted undelivered, then
processed in time order, single process, with its set-up objects first frozen out of the
garbage collector as a Celery worker's are (`pam.celery.gc_freeze_long_lived`; not with
--no-gc-freeze): one at a time three ways and one what-if, and in batches three ways:

  (a) `apps.rules.engine.rules_evaluate(event)` in its own transaction: the engine alone
      (fact insert, candidate rules, one aggregates query, cooldowns, hits, actions, the
      after-commit dispatch of what hits publish), one event a transaction.
  (b) the outbox's delivery of the event to the rules handler only (`outbox._deliver`, what
      `event_dispatch` runs per subscription: delivery row, row lock, savepoint, handler,
      delivery done), after loading the event by id: (b) - (a) is the outbox's overhead.
  (c) `outbox.event_dispatch(event_id)`, one event at a time: every subscribed handler
      (rules, timeline; the games handler returns at once, as the payloads carry no game
      provider) and the event marked dispatched.
  (s) a what-if, not the code as it is: (a) with `SET LOCAL synchronous_commit TO OFF` in
      the event's transaction, so COMMIT does not wait for the WAL flush (fsync).
  (d) the outbox's batch delivery to the rules handler (`outbox._deliver_batch`) of
      relay-sized batches (`relay.BATCH_MAX` event ids, as one Celery message carries
      them): one transaction, one delivery statement, the engine's batch
      (`rules_evaluate_batch`). What the hits publish is dispatched as the worker's next
      batch, timed with this one. Events through the dispatcher, on one thread.
  (e) `outbox.events_dispatch(event_ids)` of the same batches, as
      `event_dispatch_batch_task` runs them: every handler, events marked dispatched.
  (t) (d) with two threads in the one process, a pair of batches at a time, each thread
      with its own database connection, as the outbox's worker runs them in production
      (its own queue, `--pool threads --concurrency 2`): while one thread waits for
      PostgreSQL the other runs Python. Its pg/ev is "-": its backends are not the main
      connection's. The target is judged on (t) when it runs, else on (d).

Each prints events/s, p50/p90/p99/max per event (per batch for (d) and (e), per pair of
batches for (t)), the hits fired (and by how many rules), and for (a) and (s) the share of
events and of time that went to the busiest 1% of players. Also the cost of one small
synchronous commit on the machine: the floor under one transaction per event. Then where
the time goes: statements per event by kind and their share of the time, the EXPLAIN
ANALYZE of the aggregates statement for a typical and the busiest player, the cost of
reloading the rule cache (every RULES_CACHE_SECONDS), and (when the target is missed, or
--profile always) cProfile of (d), or of (a) when (d) was not run, written to
benchmarks/results/.

Backtest: `apps.rules.backtest.backtest_evaluate` of two rules over the --days of history,
each in a fresh process (so its peak RSS is its own): a large bet against the player's
median bet (`event.amount > 5 * median(bet, 30d)`) and deposit velocity
(`sum(deposit, 24h) > 2000`). Seconds, events/s, peak RSS, hits.

Targets (issue 7): at least 2,000 events/s per worker process; a backtest of 1 million
events in under 60 s.
"""

import argparse
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import resource
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks import common  # noqa: E402
from benchmarks.common import database_drop, database_recreate  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pam_bench_rules"
RESULTS_DIR = BASE_DIR / "benchmarks" / "results"
TARGET_EVENTS_PER_SECOND = 2000
TARGET_BACKTEST_SECONDS = 60.0
BRAND_TIMEZONE = "Europe/London"
RULES_HANDLER = "apps.rules.handlers.rules_on_event"

BET = "wallet.bet_placed"
WIN = "wallet.win_settled"
DEPOSIT = "payments.deposit_completed"
FAILED = "payments.payment_failed"
LOGIN = "players.login_succeeded"

# The backtests: (label, triggers, condition, cooldown seconds).
BACKTESTS = [
    ("large bet vs median", [BET], "event.amount > 5 * median(bet, 30d)", 86400),
    ("deposit velocity", [DEPOSIT], "sum(deposit, 24h) > 2000", 86400),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_RULES_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=1_000_000, help="outbox events of history")
    parser.add_argument(
        "--days", type=int, default=30, help="days the history spans (and the backtest reads)"
    )
    parser.add_argument("--rules", type=int, default=100, help="enabled rules (at most 100)")
    parser.add_argument("--events", type=int, default=3000, help="live events for (a) and (s)")
    parser.add_argument("--outbox-events", type=int, default=800, help="live events for (b) and (c)")
    parser.add_argument("--warmup", type=int, default=300, help="live events before the first mode")
    parser.add_argument(
        "--modes",
        default="a,s,b,c,d,e,t",
        help="live modes: a, s (synchronous_commit off), b, c (one event at a time); d, e, t (batches)",
    )
    parser.add_argument("--backtest", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--gc-freeze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="freeze the set-up objects before the live modes, as a Celery worker does (pam/celery.py)",
    )
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="cProfile the engine and the backtest: when a target is missed (auto), always, never",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    args.mode_list = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(args.mode_list) <= set(MODE_LABELS):
        parser.error(f"--modes takes {', '.join(MODE_LABELS)}")
    if not 1 <= args.rules <= 100:
        parser.error("--rules is 1 to 100")
    return args


def environment_set(args: argparse.Namespace) -> None:
    # Celery eager (no broker): what hits publish (RuleFired, AlertRaised) is dispatched
    # in-process after the event's commit, inside the measured time.
    common.environment_set(args.database_url, EMAIL_URL="memorymail://")


def _step(label: str):
    class Step:
        def __enter__(self):
            self.started = time.perf_counter()
            print(f"  {label} ...", end="", flush=True)
            return self

        def __exit__(self, *exc):
            self.seconds = time.perf_counter() - self.started
            if exc[0] is None:
                print(f" {self.seconds:.1f} s", flush=True)

    return Step()


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- rules ---------------------------------------------------------------------------------


def rule_specs() -> list[tuple[str, str, int]]:
    """100 (trigger, condition, cooldown seconds): what compliance writes, most of it quiet
    most of the time. Amounts are major units (GBP)."""
    specs: list[tuple[str, str]] = []
    # Bets (34): stake jumps, velocity, losses, night play.
    specs += [
        (BET, f"event.amount > {k} * median(bet, 30d) and count(bet, 30d) >= 20")
        for k in (5, 6, 8, 10, 12, 15)
    ]
    specs += [(BET, f"event.amount >= {x}") for x in (50, 100, 250, 500)]
    specs += [
        (BET, f"sum(bet, {w}) > {x}")
        for x, w in ((500, "1h"), (1000, "1h"), (2000, "24h"), (5000, "24h"), (10000, "7d"))
    ]
    specs += [(BET, f"count(bet, {w}) > {n}") for n, w in ((200, "1h"), (400, "1h"), (1500, "24h"))]
    specs += [
        (BET, f"net_loss({w}) > {x}") for x, w in ((300, "24h"), (1000, "24h"), (2000, "7d"), (5000, "30d"))
    ]
    specs += [
        (BET, f"event.amount >= {a} and sum(bet, 24h) > {x}") for a, x in ((20, 1000), (40, 2000), (80, 3000))
    ]
    specs += [(BET, f"event.hour < 6 and night_count(bet, 7d) >= {n}") for n in (100, 300)]
    specs += [(BET, f"avg(bet, 7d) > {x} and count(bet, 7d) >= 10") for x in (25, 40, 60)]
    specs += [(BET, f"max(bet, 30d) > {x} and event.amount >= {a}") for x, a in ((400, 100), (800, 200))]
    specs += [(BET, f"event.amount > {k} * avg(bet, 24h) and sum(bet, 1h) > 300") for k in (3, 5)]
    # Wins (18): big wins, wins against the stake, players beating the house.
    specs += [(WIN, f"event.amount >= {x}") for x in (500, 1000, 2500, 5000)]
    specs += [(WIN, f"event.amount > {k} * avg(bet, 24h)") for k in (50, 100, 200)]
    specs += [(WIN, f"sum(win, {w}) > {x}") for x, w in ((2000, "24h"), (5000, "24h"), (10000, "7d"))]
    specs += [(WIN, f"net_loss({w}) < -{x}") for x, w in ((1000, "24h"), (3000, "7d"), (10000, "30d"))]
    specs += [(WIN, f"count(win, 1h) > {n}") for n in (100, 300)]
    specs += [
        (WIN, "event.amount >= 200 and event.hour < 6"),
        (WIN, "event.amount >= 500 and count(deposit, 30d) == 0"),
        (WIN, "max(win, 24h) > 2000 and event.amount >= 1000"),
    ]
    # Completed deposits (26): velocity, first large deposit, night deposits, methods.
    specs += [
        (DEPOSIT, f"sum(deposit, {w}) > {x}")
        for x, w in ((1000, "24h"), (2000, "24h"), (3000, "24h"), (5000, "7d"), (10000, "7d"), (20000, "30d"))
    ]
    specs += [
        (DEPOSIT, f"count(deposit, {w}) >= {n}") for n, w in ((3, "1h"), (5, "1h"), (10, "24h"), (20, "24h"))
    ]
    specs += [(DEPOSIT, f"event.amount >= {x} and count(deposit, 30d) <= 1") for x in (500, 1000)]
    specs += [(DEPOSIT, f"night_count(deposit, 7d) >= {n}") for n in (5, 10, 20)]
    specs += [
        (DEPOSIT, f'event.method in ("crypto", "e_wallet") and sum(deposit, 7d) > {x}') for x in (1000, 3000)
    ]
    specs += [
        (DEPOSIT, f"count(deposit, 30d) >= 5 and event.amount > {k} * median(deposit, 30d)") for k in (4, 6)
    ]
    specs += [(DEPOSIT, f"net_loss(7d) > {x} and count(deposit, 24h) >= 3") for x in (500, 2000)]
    specs += [(DEPOSIT, f"count(deposit_failed, 24h) >= {n} and event.amount >= 100") for n in (2, 4)]
    specs += [
        (DEPOSIT, "event.amount >= 250 and event.hour < 6"),
        (DEPOSIT, "avg(deposit, 30d) > 400"),
        (DEPOSIT, "max(deposit, 7d) >= 1000 and count(deposit, 7d) >= 3"),
    ]
    # Failed payments (11): card testing, declines with heavy deposits.
    specs += [
        (FAILED, f'event.kind == "deposit" and count(deposit_failed, {w}) >= {n}')
        for n, w in ((3, "1h"), (5, "1h"), (5, "24h"), (10, "24h"), (20, "7d"))
    ]
    specs += [(FAILED, f"count(deposit_failed, 24h) >= 2 and sum(deposit, 24h) > {x}") for x in (500, 2000)]
    specs += [
        (FAILED, 'event.kind == "withdrawal" and net_loss(30d) < 0'),
        (FAILED, "count(deposit_failed, 7d) >= 3 and night_count(deposit_failed, 7d) >= 2"),
        (FAILED, "event.amount >= 500 and count(deposit_failed, 24h) >= 2"),
        (FAILED, "sum(deposit_failed, 24h) > 1000"),
    ]
    # Logins (11): night sessions, many sessions, losses.
    specs += [(LOGIN, f"night_count(login, 7d) >= {n}") for n in (5, 10, 20)]
    specs += [(LOGIN, f"count(login, 24h) >= {n}") for n in (10, 20)]
    specs += [(LOGIN, f"event.hour < 6 and net_loss(7d) > {x}") for x in (500, 2000)]
    specs += [(LOGIN, f"count(deposit_failed, 24h) >= {n}") for n in (2, 5)]
    specs += [
        (LOGIN, "count(login, 30d) >= 100 and sum(deposit, 30d) > 5000"),
        (LOGIN, "event.weekday >= 6 and net_loss(24h) > 500"),
    ]
    assert len(specs) == 100, len(specs)
    cooldowns = (3600, 6 * 3600, 86400, 7 * 86400)
    return [
        (trigger, condition, cooldowns[i % len(cooldowns)]) for i, (trigger, condition) in enumerate(specs)
    ]


def rule_actions(i: int) -> list[dict]:
    if i == 7:
        return [
            {
                "type": "message",
                "channel": "inbox",
                "subject": "A note on your play",
                "body": "You have been playing a lot recently. Our safer gambling tools are in your account.",
            }
        ]
    choices = [
        [{"type": "flag", "marker": f"bench_marker_{i}", "level": "medium"}],
        [{"type": "review_task", "queue": "aml" if i % 2 else "safer_gambling"}],
        [{"type": "alert", "severity": "warning"}],
        [
            {"type": "flag", "marker": f"bench_marker_{i}", "level": "high"},
            {"type": "review_task", "queue": "safer_gambling"},
        ],
        [
            {"type": "flag", "marker": f"bench_marker_{i}", "level": "low"},
            {"type": "alert", "severity": "info"},
        ],
    ]
    return choices[i % len(choices)]


def rules_create(officer, brand, count: int) -> list:
    from apps.rules import services

    rules = []
    for i, (trigger, condition, cooldown) in enumerate(rule_specs()[:count]):
        rule = services.rule_create(
            actor=officer,
            brand=brand,
            name=f"bench rule {i:03d}",
            triggers=[trigger],
            condition=condition,
            actions=rule_actions(i),
            cooldown_seconds=cooldown,
            priority=10 + (i * 37) % 190,
        )
        services.rule_enabled_set(actor=officer, rule=rule, enabled=True)
        rules.append(rule)
    return rules


# --- fixtures and history ------------------------------------------------------------------


def fixtures_create():
    """The operator, the GB brand and a compliance officer who may write rules for it."""
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from apps.core.models import Currency
    from apps.tenants.models import Brand, Operator, StaffUser
    from apps.tenants.services import roles_sync

    operator = Operator.objects.create(code="bench", name="Bench", legal_name="Bench Ltd")
    gbp = Currency.objects.get(code="GBP")
    brand = Brand.objects.create(
        operator=operator, code="bench-uk", name="Bench UK", jurisdiction="GB", default_currency=gbp
    )
    brand.currencies.add(gbp)
    roles_sync()
    officer = StaffUser.objects.create_user(
        username="bench-compliance", email="compliance@example.com", password="x" * 20, is_staff=True
    )
    officer.operator = operator
    officer.save(update_fields=["operator"])
    officer.groups.add(Group.objects.get(name="Compliance officer"))
    assign_perm("tenants.access_operator", officer, operator)
    return brand, officer


def players_insert(cursor, brand, count: int) -> int:
    """Players 0..count-1 of the brand; returns the id of player 0 (ids are consecutive)."""
    from apps.players.models import Player

    table = Player._meta.db_table
    cursor.execute(
        f"""
        INSERT INTO {table} (brand_id, username, email, password, first_name, last_name,
            date_of_birth, country, address_line, city, postcode, mobile, national_id,
            currency_id, status, status_reason, kyc_status, marketing_opt_in, registered_at)
        SELECT {brand.pk}, 'bench' || i, 'bench' || i || '@example.com', '!', 'Alex', 'Lastname' || i,
            DATE '1990-05-17', 'GB', '1 High Street', 'London', 'SW1A 2AA',
            '+4474' || lpad(i::text, 8, '0'), '', 'GBP', 'active', '', 'verified', false,
            now() - interval '400 days'
        FROM generate_series(0, {count - 1}) AS i ORDER BY i
        """  # noqa: S608 - our own table and numbers
    )
    cursor.execute(f"SELECT min(id), max(id), count(*) FROM {table}")  # noqa: S608
    first, last, total = cursor.fetchone()
    if total != count or last - first + 1 != count:
        raise SystemExit("player ids are not consecutive; the fill assumes they are")
    return first


def events_source_sql(
    *,
    brand_id: int,
    first_player: int,
    players: int,
    count: int,
    since: datetime,
    span_seconds: float,
    seed: float,
    spread: str,
) -> str:
    """A SELECT of `count` outbox events (type, brand, player, payload, occurred_at, actor)
    in the benchmark's mix. `spread` is 'random' (uniform over the span) or 'even' (the
    events one after another, span / count apart, as a live stream)."""
    at = (
        f"TIMESTAMPTZ '{since.isoformat()}' + make_interval(secs => r_t * {span_seconds})"
        if spread == "random"
        else f"TIMESTAMPTZ '{since.isoformat()}' + make_interval(secs => (i + r_t) * {span_seconds / count})"
    )
    # Per player: a stake level from 1 to ~55 (a hash of the index), so stakes differ by
    # player and a player's own stakes stay within a factor of 4.5 of each other (outliers
    # aside: 3 bets in 1000 are 10-30 times the usual).
    return f"""
        SELECT
            CASE kind WHEN 'bet' THEN '{BET}' WHEN 'win' THEN '{WIN}' WHEN 'deposit' THEN '{DEPOSIT}'
                 WHEN 'failed' THEN '{FAILED}' ELSE '{LOGIN}' END AS type,
            {brand_id} AS brand_id, {first_player} + idx AS player_id,
            CASE
              WHEN kind IN ('bet', 'win') THEN jsonb_build_object(
                'transaction_id', 1000000000 + i, 'wallet_id', {first_player} + idx,
                'player_id', {first_player} + idx, 'brand_id', {brand_id}, 'currency', 'GBP',
                'amount', amount, 'cash', 0, 'bonus', 0, 'reserved', 0, 'debt', 0,
                'round_ref', 'R-' || i, 'game_ref', (ARRAY['clt_dragonrising', 'pgp_mahjongways',
                'evo_lightningroulette', 'pp_sweetbonanza'])[1 + floor(r_c * 4)::int],
                'payment_ref', '', 'metadata', NULL)
              WHEN kind IN ('deposit', 'failed') THEN jsonb_build_object(
                'payment_id', 1000000000 + i, 'reference', 'PIQ-' || i,
                'kind', CASE WHEN kind = 'failed' AND r_b >= 0.85 THEN 'withdrawal' ELSE 'deposit' END,
                'player_id', {first_player} + idx, 'brand_id', {brand_id}, 'amount', amount,
                'currency', 'GBP',
                'method', CASE WHEN r_c < 0.70 THEN 'card' WHEN r_c < 0.85 THEN 'e_wallet'
                               WHEN r_c < 0.95 THEN 'bank_transfer' ELSE 'crypto' END,
                'provider', 'paymentiq',
                'status', CASE WHEN kind = 'failed' THEN 'failed' ELSE 'completed' END,
                'previous_status', 'processing',
                'reason', CASE WHEN kind = 'failed' THEN 'declined by issuer' ELSE '' END,
                'flags', '[]'::jsonb)
              ELSE jsonb_build_object('player_id', {first_player} + idx, 'brand_id', {brand_id},
                'ip', '203.0.113.' || (1 + mod(idx, 250)))
            END AS payload,
            {at} AS occurred_at,
            CASE WHEN kind IN ('bet', 'win') THEN 'provider:hub88' WHEN kind = 'login'
                 THEN 'player:' || ({first_player} + idx) ELSE 'provider:paymentiq' END AS actor
        FROM (
            SELECT *,
                CASE
                  WHEN kind = 'bet' THEN round(20 * level * exp(1.5 * r_a)
                       * CASE WHEN r_b < 0.003 THEN 10 + 20 * r_c ELSE 1 END)::bigint
                  WHEN kind = 'win' THEN round(20 * level * exp(1.5 * r_a) * exp(2.5 * r_b - 1.05))::bigint
                  WHEN kind IN ('deposit', 'failed')
                       THEN (round(1000 * exp(3.0 * r_a) * sqrt(level) / 100) * 100)::bigint
                  ELSE NULL
                END AS amount
            FROM (
                SELECT *, exp(mod(idx::bigint * 2654435761, 1000) / 1000.0 * 4) AS level
                FROM (
                    SELECT *,
                        -- bets and wins: P(index < y) = sqrt(y), the busiest player ~1% of them;
                        -- deposits, failures and logins less skewed.
                        floor({players}
                            * power(r_p, CASE WHEN kind IN ('bet', 'win') THEN 2.0 ELSE 1.3 END))::int AS idx
                    FROM (
                        SELECT *,
                            CASE WHEN r_k < 0.55 THEN 'bet' WHEN r_k < 0.87 THEN 'win'
                                 WHEN r_k < 0.915 THEN 'deposit' WHEN r_k < 0.935 THEN 'failed'
                                 ELSE 'login' END AS kind
                        FROM (
                            SELECT i, random() AS r_t, random() AS r_k, random() AS r_p, random() AS r_a,
                                   random() AS r_b, random() AS r_c
                            FROM (SELECT setseed({seed})) AS seeded, generate_series(0, {count - 1}) AS i
                        ) AS r
                    ) AS k
                ) AS p
            ) AS l
        ) AS e
    """  # noqa: S608 - numbers and our own constants


def events_insert(cursor, source: str, *, dispatched: bool) -> tuple[int, int]:
    """Insert the events in time order; returns the first and last id."""
    cursor.execute(
        f"""INSERT INTO core_event (type, brand_id, player_id, payload, occurred_at, correlation_id, actor,
                dispatched_at)
            SELECT type, brand_id, player_id, payload, occurred_at, '', actor,
                {"occurred_at" if dispatched else "NULL"}
            FROM ({source}) AS s ORDER BY occurred_at
            RETURNING id"""  # noqa: S608
    )
    ids = [row[0] for row in cursor.fetchall()]
    return min(ids), max(ids)


def history_fill(cursor, args, brand, first_player: int, end: datetime) -> dict:
    """The history's outbox events (dispatched) and the facts the engine would have kept."""
    from apps.core.models import Event

    table = Event._meta.db_table
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND i.indexname NOT IN"
        " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u'))",
        [table, table],
    )
    indexes = cursor.fetchall()
    for name, _ddl in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    start = end - timedelta(days=args.days)
    source = events_source_sql(
        brand_id=brand.pk,
        first_player=first_player,
        players=args.players,
        count=args.history,
        since=start,
        span_seconds=args.days * 86400,
        seed=0.42,
        spread="random",
    )
    with _step(f"{args.history:,} outbox events over {args.days} days"):
        cursor.execute(
            f"""INSERT INTO {table} (type, brand_id, player_id, payload, occurred_at, correlation_id, actor,
                    dispatched_at)
                SELECT type, brand_id, player_id, payload, occurred_at, '', actor, occurred_at
                FROM ({source}) AS s ORDER BY occurred_at"""  # noqa: S608
        )
    with _step(f"indexes of {table} ({len(indexes)})"):
        for _name, ddl in indexes:
            cursor.execute(ddl)
    with _step("facts (rules_fact) from the events"):
        cursor.execute(
            f"""INSERT INTO rules_fact (event_id, player_id, brand_id, kind, amount, occurred_at, night)
                SELECT id, player_id, brand_id,
                    CASE type WHEN '{BET}' THEN 'bet' WHEN '{WIN}' THEN 'win' WHEN '{DEPOSIT}' THEN 'deposit'
                              WHEN '{FAILED}' THEN 'deposit_failed' ELSE 'login' END,
                    COALESCE((payload->>'amount')::numeric / 100, 0), occurred_at,
                    extract(hour FROM occurred_at AT TIME ZONE '{BRAND_TIMEZONE}') < 6
                FROM {table}
                WHERE brand_id = {brand.pk} AND type IN ('{BET}', '{WIN}', '{DEPOSIT}', '{FAILED}', '{LOGIN}')
                    AND NOT (type = '{FAILED}' AND payload->>'kind' <> 'deposit')
                ORDER BY occurred_at, id"""  # noqa: S608
        )
    return {"start": start, "end": end}


def facts_check(brand, end: datetime, sample: int = 2000) -> int:
    """Compare the SQL-derived facts of `sample` random events of the history with
    catalogue.fact_from_event; returns the mismatches."""
    from apps.core.models import Event
    from apps.rules.catalogue import fact_from_event
    from apps.rules.models import Fact

    events = list(
        Event.objects.filter(brand_id=brand.pk, occurred_at__lte=end)
        .order_by("?")
        .values_list("id", "type", "payload", "occurred_at")[:sample]
    )
    stored = {f.event_id: f for f in Fact.objects.filter(event_id__in=[e[0] for e in events])}
    wrong = 0
    for event_id, event_type, payload, occurred_at in events:
        fact = fact_from_event(event_type, brand.pk, payload, occurred_at)
        row = stored.get(event_id)
        if fact is None:
            wrong += row is not None
        elif row is None or (row.kind, row.amount, row.night) != (fact.kind, fact.amount, fact.night):
            wrong += 1
    return wrong


def table_sizes() -> list[tuple[str, int, str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_table_size(c.oid)),
                      pg_size_pretty(pg_indexes_size(c.oid))
               FROM pg_class c WHERE c.relname IN ('core_event', 'rules_fact') ORDER BY c.relname"""
        )
        return cursor.fetchall()


# --- live ----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Counts:
    """Rows a mode made: hits, markers, tasks, messages, follow-on events."""

    @staticmethod
    def now() -> dict:
        from apps.rules.models import Message, ReviewTask, RiskMarker, RuleHit

        return {
            "hits": RuleHit.objects.count(),
            "markers": RiskMarker.objects.count(),
            "tasks": ReviewTask.objects.count(),
            "messages": Message.objects.count(),
        }


def backend_cpu_seconds() -> tuple[int, float] | None:
    """(pid, CPU seconds, user + system) of the PostgreSQL backend serving our connection,
    read from /proc when the server runs on this machine; None otherwise. With the worker's
    own CPU time this is what one event costs whatever else the machine is doing: on a
    shared machine the events/s move with the load, the CPU per event much less."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _events_in(item) -> int:
    """An item is an event or its id (1), a batch of ids, or a list of batches."""
    if not isinstance(item, list):
        return 1
    return sum(len(batch) for batch in item) if item and isinstance(item[0], list) else len(item)


def run_mode(
    label: str, items: list, call, heavy: frozenset = frozenset(), *, own_backend: bool = True
) -> dict:
    """Process `items` one by one with `call` (an item is an event, an event id, or a batch:
    a list of event ids; percentiles are then per batch). For Event items, also the share of the events
    and of the time that went to `heavy` players (the busiest 1%), and the statements sent
    through Django's cursor per event (not BEGIN and COMMIT, nor apps.core.hotpath's)."""
    from django.db import connection

    from apps.rules.models import RuleHit

    before = Counts.now()
    last_hit = RuleHit.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    latencies = []
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    backend_before = backend_cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        for item in items:
            t0 = time.perf_counter()
            call(item)
            latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    worker_cpu = time.process_time() - cpu_before
    backend_after = backend_cpu_seconds()
    backend_cpu = (
        backend_after[1] - backend_before[1]
        if own_backend and backend_before and backend_after and backend_before[0] == backend_after[0]
        else None
    )
    after = Counts.now()
    rules_fired = RuleHit.objects.filter(pk__gt=last_hit).values("rule_id").distinct().count()
    events = sum(_events_in(item) for item in items)
    ms = [x * 1000 for x in latencies]
    heavy_events = heavy_seconds = 0
    for item, seconds in zip(items, latencies, strict=True):
        if getattr(item, "player_id", None) in heavy:
            heavy_events += 1
            heavy_seconds += seconds
    return {
        "mode": label,
        "events": events,
        "seconds": elapsed,
        "events_per_second": events / elapsed,
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "mean_ms": statistics.fmean(ms),
        "rules_fired": rules_fired,
        "worker_cpu_ms_per_event": worker_cpu / events * 1000,
        "postgres_cpu_ms_per_event": None if backend_cpu is None else backend_cpu / events * 1000,
        "statements_per_event": statements[0] / events,
        "heavy_event_share": heavy_events / events,
        "heavy_time_share": heavy_seconds / sum(latencies),
        **{k: after[k] - before[k] for k in after},
    }


def mode_calls():
    """The three ways of processing one event: (a) takes an Event, (b) and (c) an event id."""
    from django.db import connection, transaction

    from apps.core import outbox
    from apps.core.events import subscriptions_for
    from apps.core.models import Event
    from apps.rules.catalogue import TRIGGER_TYPES
    from apps.rules.engine import rules_evaluate

    def engine(event):
        with transaction.atomic():
            rules_evaluate(event)

    def engine_commit_async(event):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            rules_evaluate(event)

    subscriptions = {}

    def rules_delivery(event_id):
        event = Event.objects.filter(pk=event_id).first()
        sub = subscriptions.get(event.type)
        if sub is None:
            sub = subscriptions[event.type] = next(
                s for s in subscriptions_for(event.type) if s.name == RULES_HANDLER
            )
        outbox._deliver(event, sub, force=False)

    def dispatch(event_id):
        outbox.event_dispatch(event_id=event_id)

    rules_subscription = next(
        s for event_type in TRIGGER_TYPES for s in subscriptions_for(event_type) if s.name == RULES_HANDLER
    )

    def followers_dispatch(followers: list[int]) -> None:
        """Dispatch what the handlers published, as the worker's next batches, until none is left."""
        while followers:
            batch = followers[:]
            followers.clear()
            outbox.events_dispatch(event_ids=batch)

    def relayed(call):
        """A batch as a worker runs it: what its handlers publish goes to the process's
        relay (not to eager Celery, one event at a time), whose message is the worker's
        next batch; here that batch is dispatched at once, and timed with this one."""
        from apps.core import relay

        def run(event_ids):
            followers: list[int] = []
            original = relay.dispatch_after_commit
            # The relay's signature: (event id, traceparent); the traceparent is not needed here.
            relay.dispatch_after_commit = lambda event_id, traceparent="": followers.append(event_id)
            try:
                call(event_ids)
                followers_dispatch(followers)
            finally:
                relay.dispatch_after_commit = original

        return run

    def relayed_threads(call, threads: int = 2):
        """`relayed`, with the batches of a pair run at once by a pool of `threads` threads
        (each with its own database connection): a worker process whose pool is threads."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        from apps.core import relay
        from apps.core.actors import audit_as, system_actor

        local = threading.local()
        pool = ThreadPoolExecutor(threads)

        def one(event_ids):
            local.followers = []
            with audit_as(system_actor("outbox")):
                call(event_ids)
                followers_dispatch(local.followers)

        def run(batches):
            original = relay.dispatch_after_commit
            relay.dispatch_after_commit = lambda event_id, traceparent="": local.followers.append(event_id)
            try:
                list(pool.map(one, batches))
            finally:
                relay.dispatch_after_commit = original

        return run

    def rules_batch_delivery(event_ids):
        events = list(Event.objects.filter(pk__in=event_ids).order_by("pk"))
        subscribed = [e for e in events if any(s.name == RULES_HANDLER for s in subscriptions_for(e.type))]
        outbox._deliver_batch(subscribed, rules_subscription)

    def dispatch_batch(event_ids):
        outbox.events_dispatch(event_ids=event_ids)

    return {
        "a": engine,
        "s": engine_commit_async,
        "b": rules_delivery,
        "c": dispatch,
        "d": relayed(rules_batch_delivery),
        "e": relayed(dispatch_batch),
        "t": relayed_threads(rules_batch_delivery),
    }


MODE_LABELS = {
    "a": "(a) rules_evaluate, own transaction",
    "s": "(s) = (a), synchronous_commit off *",
    "b": "(b) outbox delivery, rules handler",
    "c": "(c) event_dispatch, all handlers",
    "d": "(d) batch delivery, rules handler",
    "e": "(e) events_dispatch, all handlers",
    "t": "(t) = (d), two threads: outbox worker",
}
BATCH_MODES = ("d", "e", "t")


def live_slices(first_id: int, last_id: int, args) -> dict[str, list[int]]:
    ids = list(range(first_id, last_id + 1))
    slices, at = {}, 0
    sizes = {"a": args.events, "s": args.events, "b": args.outbox_events, "c": args.outbox_events}
    sizes |= {"d": args.events, "e": args.events, "t": args.events}
    for name, size in (("warmup", args.warmup), *((m, sizes[m]) for m in args.mode_list), ("analysis", 1000)):
        slices[name] = ids[at : at + size]
        at += size
    return slices


def events_by_id(ids: list[int]) -> list:
    from apps.core.models import Event

    events = {e.pk: e for e in Event.objects.filter(pk__in=ids)}
    return [events[i] for i in ids]


def type_mix(events) -> str:
    counts = Counter(e.type.split(".")[1] for e in events)
    total = sum(counts.values())
    return ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in counts.most_common())


# --- where the time goes -------------------------------------------------------------------


STATEMENT_KINDS = [
    ("aggregates SELECT (rules_fact)", lambda s: "FROM rules_fact" in s and "GROUP BY" in s),
    ("fact INSERT", lambda s: s.startswith(('INSERT INTO "rules_fact"', "INSERT INTO rules_fact"))),
    ("cooldown", lambda s: "rules_rulecooldown" in s),
    (
        "hit, marker, task, message",
        lambda s: any(
            t in s for t in ("rules_rulehit", "rules_riskmarker", "rules_reviewtask", "rules_message")
        ),
    ),
    ("outbox (core_event, delivery)", lambda s: "core_event" in s),
    ("savepoint", lambda s: "SAVEPOINT" in s),
    ("rule cache reload", lambda s: '"rules_rule"' in s),
    ("other", lambda s: True),
]


class StatementTimer:
    """A connection execute_wrapper: count and time the statements by kind."""

    def __init__(self):
        self.count = Counter()
        self.seconds = Counter()
        self.samples: dict[str, tuple[str, object]] = {}

    def __call__(self, execute, sql, params, many, context):
        kind = next(name for name, test in STATEMENT_KINDS if test(sql.lstrip()))
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count[kind] += 1
            self.seconds[kind] += time.perf_counter() - started
            self.samples.setdefault(kind, (sql, params))


def statements_breakdown(events: list, engine_call) -> dict:
    """Run `events` through (a) with every statement timed (those of apps.core.hotpath too,
    which bypass Django's execute wrappers); the commit is timed apart."""
    from django.db import connection, transaction

    from apps.core import hotpath
    from apps.rules.engine import rules_evaluate

    timer = StatementTimer()
    originals = {name: getattr(hotpath, name) for name in ("execute", "fetchone", "fetchall")}

    def timed(name):
        def run(sql, params):
            return timer(
                lambda sql, params, many, context: originals[name](sql, params), sql, params, False, None
            )

        return run

    commit_seconds = 0.0
    started = time.perf_counter()
    for name in originals:
        setattr(hotpath, name, timed(name))
    try:
        with connection.execute_wrapper(timer):
            for event in events:
                with transaction.atomic():
                    rules_evaluate(event)
                    entered, timed_so_far = time.perf_counter(), sum(timer.seconds.values())
                # The COMMIT itself: the after-commit dispatch's statements are timed by kind.
                commit_seconds += time.perf_counter() - entered - (sum(timer.seconds.values()) - timed_so_far)
    finally:
        for name, original in originals.items():
            setattr(hotpath, name, original)
    total = time.perf_counter() - started
    return {"timer": timer, "commit_seconds": commit_seconds, "total": total, "events": len(events)}


def explain_aggregates(player_id: int, at: datetime, refs) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the aggregates statement (the batch's, for one event)
    for the player at `at`."""
    from django.db import connection

    from apps.rules.aggregates import _in_order, _statement

    statement = _statement(_in_order(refs))
    params = statement.params([(player_id, at, 2**62)])  # every fact at `at` counts
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def commit_cost_ms(repeat: int = 200) -> dict[str, float]:
    """What one small committed write costs on this machine, with and without waiting for
    the WAL flush (fsync): the floor under one transaction per event."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (x int)")
    costs = {}
    for setting in ("on", "off"):
        with connection.cursor() as cursor:
            cursor.execute(f"SET synchronous_commit = {setting}")
            started = time.perf_counter()
            for _ in range(repeat):
                with transaction.atomic():
                    cursor.execute("INSERT INTO bench_commit_probe VALUES (1)")
            costs[setting] = (time.perf_counter() - started) / repeat * 1000
            cursor.execute("RESET synchronous_commit")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_commit_probe")
    return costs


def rule_cache_reload_seconds(brand_id: int, repeat: int = 5) -> tuple[float, float]:
    """(seconds to reload the brand's rules, of which compiling the conditions)."""
    from apps.rules.dsl import compile_condition
    from apps.rules.engine import rule_cache
    from apps.rules.models import Rule

    loads = []
    for _ in range(repeat):
        started = time.perf_counter()
        rule_cache._load(brand_id)
        loads.append(time.perf_counter() - started)
    sources = list(
        Rule.objects.filter(brand_id=brand_id, enabled=True).values_list(
            "current_version__condition", flat=True
        )
    )
    compiles = []
    for _ in range(repeat):
        started = time.perf_counter()
        for source in sources:
            compile_condition(source)
        compiles.append(time.perf_counter() - started)
    return statistics.median(loads), statistics.median(compiles)


def profile_text(profiler: cProfile.Profile, limit: int, sort: str) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return stream.getvalue()


def profile_head(text: str, lines: int) -> str:
    """The table part of a pstats print, its first `lines` rows."""
    body = text.splitlines()
    header = next((i for i, line in enumerate(body) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(body[header : header + 1 + lines])


# --- backtest (in a process of its own) ----------------------------------------------------


def _backtest_child(env: dict, brand_id: int, spec: tuple, start: datetime, end: datetime, profile_to, out):
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from apps.rules.backtest import backtest_evaluate

    label, triggers, condition, cooldown = spec
    connection.ensure_connection()
    baseline = maxrss_mib()
    profiler = cProfile.Profile() if profile_to else None
    cpu0 = time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = backtest_evaluate(
        brand_id=brand_id,
        condition=condition,
        triggers=triggers,
        cooldown=timedelta(seconds=cooldown),
        start=start,
        end=end,
    )
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_to)
    seconds = time.perf_counter() - started
    out.put(
        {
            "label": label,
            "condition": condition,
            "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu0,
            "events_scanned": result.events_scanned,
            "events_triggering": result.events_triggering,
            "hits": len(result.hits),
            "players_hit": len(result.players),
            "baseline_rss_mib": baseline,
            "peak_rss_mib": maxrss_mib(),
            "profiled": bool(profiler),
        }
    )
    connection.close()


def backtest_in_child(brand_id: int, spec: tuple, start: datetime, end: datetime, profile_to=None) -> dict:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    env = {k: v for k, v in os.environ.items() if k in ("DJANGO_SETTINGS_MODULE", "PAM_IGNORE_DOTENV")}
    process = context.Process(
        target=_backtest_child,
        args=(env, brand_id, spec, start, end, str(profile_to) if profile_to else None, out),
    )
    process.start()
    result = out.get(timeout=1800)
    process.join(60)
    return result


# --- main ----------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    environment_set(args)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    from apps.core.actors import audit_as, system_actor
    from apps.rules.engine import rule_cache
    from apps.rules.models import RuleHit

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(
        f"rules benchmark on {os.cpu_count()} cores; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
        f"database {args.database_url} (made anew); Celery eager; {args.players:,} players,"
        f" {args.rules} rules, {args.history:,} events of history over {args.days} days;"
        f" {args.events:,} live events per mode (+{args.warmup} warm-up); RULES_CACHE_SECONDS"
        f" {settings.RULES_CACHE_SECONDS:g}"
    )
    database_recreate(args.database_url)
    figures: dict = {"args": {k: v for k, v in vars(args).items() if k != "mode_list"}}
    missed = []
    try:
        print("fill:")
        fill_started = time.perf_counter()
        with _step("migrate"):
            call_command("migrate", verbosity=0, interactive=False)
        brand, officer = fixtures_create()
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        with connection.cursor() as cursor:
            cursor.execute("SET work_mem = '256MB'")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            with _step(f"{args.players:,} players"):
                first_player = players_insert(cursor, brand, args.players)
            period = history_fill(cursor, args, brand, first_player, end)
            live_count = (
                args.warmup
                + 1000
                + sum(args.outbox_events if m in ("b", "c") else args.events for m in args.mode_list)
            )
            # The live stream: after the history, at ~4 events a second.
            live_source = events_source_sql(
                brand_id=brand.pk,
                first_player=first_player,
                players=args.players,
                count=live_count,
                since=end + timedelta(seconds=1),
                span_seconds=live_count / 4,
                seed=0.17,
                spread="even",
            )
            with _step(f"{live_count:,} live events (undelivered)"):
                live_first, live_last = events_insert(cursor, live_source, dispatched=False)
            cursor.execute("RESET work_mem")
        connection.close()
        with connection.cursor() as cursor, _step("VACUUM ANALYZE"):
            cursor.execute("VACUUM (ANALYZE) core_event")
            cursor.execute("VACUUM (ANALYZE) rules_fact")
        with _step(f"{args.rules} rules through rule_create + rule_enabled_set"):
            rules_create(officer, brand, args.rules)
        wrong = facts_check(brand, end)
        print(f"  facts check: {wrong} of 2000 sampled events differ from catalogue.fact_from_event")
        with connection.cursor() as cursor, _step("CHECKPOINT"):
            # The fill's writes go to disk now, not while the live modes are timed.
            cursor.execute("CHECKPOINT")
        print(f"  fill total {time.perf_counter() - fill_started:.0f} s")
        for name, tuples, table_size, index_size in table_sizes():
            print(f"  {name}: ~{tuples:,} rows, table {table_size}, indexes {index_size}")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), max(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n) FROM"
                " (SELECT player_id, count(*) AS n FROM rules_fact GROUP BY player_id) AS p"
            )
            with_facts, busiest, median_facts = cursor.fetchone()
            cursor.execute(
                "SELECT player_id FROM rules_fact GROUP BY player_id ORDER BY count(*) DESC LIMIT %s",
                [max(1, args.players // 100)],
            )
            heavy = [row[0] for row in cursor.fetchall()]
            busiest_player = heavy[0]
        print(
            f"  facts per player over {args.days} days: median {median_facts}, busiest {busiest}"
            f" ({with_facts:,} players have facts)"
        )
        figures["facts_check_mismatches"] = wrong

        # --- live ---------------------------------------------------------------------
        from apps.core import relay

        slices = live_slices(live_first, live_last, args)
        calls = mode_calls()
        rule_cache.clear()
        print("\nlive, single process, events in time order:")
        if args.gc_freeze:
            from pam.celery import gc_freeze_long_lived

            frozen = gc_freeze_long_lived()
            print(f"  {frozen:,} long-lived objects frozen out of the garbage collector, as a worker does")
        warm = events_by_id(slices["warmup"])
        for event in warm:
            calls["a"](event)
        results = []
        mode_first_engine = next((m for m in args.mode_list if m in ("a", "s")), None)
        with audit_as(system_actor("outbox")):
            for mode in args.mode_list:
                items = slices[mode]
                if mode in BATCH_MODES:  # as the relay sends them: BATCH_MAX ids a message
                    size = relay.BATCH_MAX
                    items = [items[i : i + size] for i in range(0, len(items), size)]
                if mode == "t":  # a pair of batches at a time, one on each thread
                    items = [items[i : i + 2] for i in range(0, len(items), 2)]
                if mode in ("a", "s"):
                    items = events_by_id(items)
                    if mode == mode_first_engine:
                        print(f"  mix of the live events: {type_mix(items)}")
                results.append(
                    run_mode(MODE_LABELS[mode], items, calls[mode], frozenset(heavy), own_backend=mode != "t")
                )
        print(
            f"\n{'mode':<40} {'events':>6} {'events/s':>9} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7}"
            f" {'max ms':>7} {'stmts':>5} {'hits':>5} {'rules':>5} {'markers':>7} {'tasks':>5}"
            f" {'cpu/ev':>6} {'pg/ev':>6}"
        )
        for r in results:
            print(
                f"{r['mode']:<40} {r['events']:>6} {r['events_per_second']:>9.0f} {r['p50_ms']:>7.2f}"
                f" {r['p90_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['max_ms']:>7.1f}"
                f" {r['statements_per_event']:>5.1f} {r['hits']:>5}"
                f" {r['rules_fired']:>5} {r['markers']:>7} {r['tasks']:>5}"
                f" {r['worker_cpu_ms_per_event']:>6.3f} {_ms(r['postgres_cpu_ms_per_event']):>6}"
            )
        print(
            "stmts: statements per event through Django's cursor (BEGIN and COMMIT not counted);"
            " rules: how many rules fired; markers, tasks: what their actions made; cpu/ev, pg/ev:"
            " CPU ms per event of this process and of its PostgreSQL backend (steadier than"
            " events/s on a shared machine)"
        )
        engines = [r for r in results if r["mode"][:3] in ("(a)", "(s)")]
        for r in engines:
            print(
                f"{r['mode'][:3]}: the busiest 1% of players ({len(heavy)}) had"
                f" {100 * r['heavy_event_share']:.0f}% of the events and took"
                f" {100 * r['heavy_time_share']:.0f}% of the time"
            )
        if "s" in args.mode_list:
            print(
                "* what-if, not the code as it is: (a) with SET LOCAL synchronous_commit TO OFF in the"
                " event's transaction (no wait for the WAL flush at COMMIT)"
            )
        commit = commit_cost_ms()
        print(
            f"one small committed INSERT on this machine: {commit['on']:.2f} ms (synchronous_commit on),"
            f" {commit['off']:.2f} ms (off): at most {1000 / commit['on']:,.0f} synchronous commits/s"
            " per connection"
        )
        figures["commit_ms"] = commit
        figures["live"] = results
        # The issue's figure: events through the dispatcher to the engine, per worker
        # process. The relay hands the worker batches; the outbox's worker runs them on two
        # threads (settings: the outbox queue, `--pool threads --concurrency 2`), which is
        # (t); (d) is the same on one thread, (a) without batches.
        by_mode = {r["mode"][:3]: r for r in results}
        engine = by_mode.get("(t)") or by_mode.get("(d)") or by_mode.get("(a)")
        if engine is not None:
            met = engine["events_per_second"] >= TARGET_EVENTS_PER_SECOND
            print(
                f"target {engine['mode'][:3]} >= {TARGET_EVENTS_PER_SECOND:,} events/s per worker process:"
                f" {engine['events_per_second']:,.0f} -> {'MET' if met else 'MISS'}"
            )
            if engine is not by_mode.get("(d)") and "(d)" in by_mode:
                print(f"  (d), the same on one thread: {by_mode['(d)']['events_per_second']:,.0f} events/s")
            if not met:
                missed.append("engine")
        hits_total = RuleHit.objects.count()
        fired_rules = RuleHit.objects.values("rule_id").distinct().count()
        print(f"hits so far {hits_total:,} by {fired_rules} of {args.rules} rules")

        # --- where the time goes ------------------------------------------------------
        print("\nwhere the time goes in (a):")
        analysis = events_by_id(slices["analysis"])
        half = len(analysis) // 2
        breakdown = statements_breakdown(analysis[:half], calls["a"])
        timer, n = breakdown["timer"], breakdown["events"]
        per_event_ms = breakdown["total"] / n * 1000
        print(f"  {n} events, {per_event_ms:.2f} ms each (with statement timing on)")
        print(f"  {'statement kind':<34} {'per event':>9} {'ms/event':>9} {'share':>6}")
        rows = sorted(timer.count, key=lambda k: -timer.seconds[k])
        for kind in rows:
            ms = timer.seconds[kind] / n * 1000
            print(f"  {kind:<34} {timer.count[kind] / n:>9.2f} {ms:>9.3f} {100 * ms / per_event_ms:>5.0f}%")
        commit_ms = breakdown["commit_seconds"] / n * 1000
        print(f"  {'COMMIT':<34} {1:>9.2f} {commit_ms:>9.3f} {100 * commit_ms / per_event_ms:>5.0f}%")
        sql_ms = sum(timer.seconds.values()) / n * 1000 + commit_ms
        print(
            f"  {'Python (the rest)':<34} {'':>9} {per_event_ms - sql_ms:>9.3f}"
            f" {100 * (per_event_ms - sql_ms) / per_event_ms:>5.0f}%"
        )
        figures["breakdown"] = {
            "per_event_ms": per_event_ms,
            "commit_ms": commit_ms,
            "statements": {
                k: {"per_event": timer.count[k] / n, "ms": timer.seconds[k] / n * 1000} for k in rows
            },
        }
        reload_s, compile_s = rule_cache_reload_seconds(brand.pk)
        print(
            f"  rule cache reload (every {settings.RULES_CACHE_SECONDS:g} s): {reload_s * 1000:.0f} ms,"
            f" of which compiling {args.rules} conditions {compile_s * 1000:.0f} ms"
            f" = {100 * reload_s / settings.RULES_CACHE_SECONDS:.1f}% of a busy worker's time"
        )
        figures["rule_cache_reload_ms"] = reload_s * 1000
        figures["rule_compile_ms"] = compile_s * 1000
        refs = frozenset().union(*(r.condition.aggregates for r in rule_cache.rules_for(brand.pk, BET)))
        typical_player = first_player + args.players // 2
        explains = []
        for label, player_id in (("typical", typical_player), ("busiest", busiest_player)):
            plan = explain_aggregates(player_id, end, refs)
            took = next((line for line in plan.splitlines() if "Execution Time" in line), "").strip()
            print(f"  aggregates statement of a bet ({len(refs)} aggregates), {label} player: {took}")
            explains.append(f"-- {label} player {player_id}\n{plan}")
        explain_path = RESULTS_DIR / "rules-explain.txt"
        explain_path.write_text("\n\n".join(explains) + "\n")
        print(f"  EXPLAIN (ANALYZE, BUFFERS) written to {explain_path.relative_to(BASE_DIR)}")

        profile_engine = args.profile == "always" or (args.profile == "auto" and "engine" in missed)
        if profile_engine:
            # The batch delivery when it was measured (the worker's way), else (a).
            profiled = "d" if "d" in args.mode_list else "a"
            rest = analysis[half:]
            if profiled == "d":
                size = relay.BATCH_MAX
                items = [[e.pk for e in rest[i : i + size]] for i in range(0, len(rest), size)]
            else:
                items = rest
            profiler = cProfile.Profile()
            profiler.enable()
            for item in items:
                calls[profiled](item)
            profiler.disable()
            path = RESULTS_DIR / "rules-engine.pstats"
            profiler.dump_stats(path)
            text = profile_text(profiler, 40, "tottime")
            (RESULTS_DIR / "rules-engine-profile.txt").write_text(
                text + "\n" + profile_text(profiler, 60, "cumulative")
            )
            print(
                f"\n  cProfile of ({profiled}) on {len(rest)} events, by own time"
                f" (full: {path.relative_to(BASE_DIR)}):"
            )
            print(profile_head(text, 22))

        # --- backtest -----------------------------------------------------------------
        if args.backtest:
            connections.close_all()
            print(
                f"\nbacktest over {args.days} days ({period['start']:%Y-%m-%d} .. {period['end']:%Y-%m-%d}),"
                " each in a fresh process:"
            )
            print(
                f"{'rule':<58} {'seconds':>8} {'cpu s':>6} {'scanned':>9} {'events/s':>9} {'trig.':>7}"
                f" {'hits':>6} {'players':>7} {'RSS MiB':>8} {'(base)':>7}"
            )
            backtests = []
            for spec in BACKTESTS:
                r = backtest_in_child(brand.pk, spec, period["start"], period["end"])
                r["events_per_second"] = r["events_scanned"] / r["seconds"]
                backtests.append(r)
                name = f"{r['label']}: {r['condition']}"
                print(
                    f"{name[:58]:<58} {r['seconds']:>8.1f} {r['cpu_seconds']:>6.1f} {r['events_scanned']:>9,}"
                    f" {r['events_per_second']:>9,.0f} {r['events_triggering']:>7,} {r['hits']:>6,}"
                    f" {r['players_hit']:>7,} {r['peak_rss_mib']:>8.0f} {r['baseline_rss_mib']:>7.0f}"
                )
            figures["backtest"] = backtests
            slowest = max(backtests, key=lambda r: r["seconds"])
            met = all(r["seconds"] < TARGET_BACKTEST_SECONDS for r in backtests)
            print(
                f"target backtest of {args.history:,} events < {TARGET_BACKTEST_SECONDS:.0f} s:"
                f" slowest {slowest['seconds']:.1f} s -> {'MET' if met else 'MISS'}"
            )
            if not met:
                missed.append("backtest")
            if args.profile == "always" or (args.profile == "auto" and not met):
                path = RESULTS_DIR / "rules-backtest.pstats"
                spec = next(s for s in BACKTESTS if s[0] == slowest["label"])
                print(f"\n  cProfile of the backtest '{spec[0]}' (the slowest; cProfile slows it):")
                r = backtest_in_child(brand.pk, spec, period["start"], period["end"], profile_to=path)
                print(f"  profiled run: {r['seconds']:.1f} s")
                stream = io.StringIO()
                stats = pstats.Stats(str(path), stream=stream)
                stats.strip_dirs().sort_stats("tottime").print_stats(40)
                text = stream.getvalue()
                (RESULTS_DIR / "rules-backtest-profile.txt").write_text(text)
                print(profile_head(text, 22))
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
        print(f"\ntargets missed: {', '.join(missed) if missed else 'none'}")
        return 0
    finally:
        connections.close_all()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                database_drop(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
