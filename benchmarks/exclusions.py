"""Daily re-check benchmark (a measurement, not a test): how fast are players re-checked
against GAMSTOP's batch API, and does memory stay flat as the player count grows?

    make benchmark-exclusions              # or: .venv/bin/python benchmarks/exclusions.py
    .venv/bin/python benchmarks/exclusions.py --marks 10000,50000,100000 --help

On PostgreSQL, in a database of its own (dropped and made anew: `pam_bench_exclusions`):
one GB brand; players are added with COPY up to each mark (10k, 50k, 100k by default), and
at each mark a full re-check runs (apps.exclusions.batch: plan the run by keyset pages of
player ids, then work it chunk by chunk of 1000, each one batch request to GAMSTOP and one
transaction) against the fake GAMSTOP batch server (apps.exclusions.fakes.FakeGamstop,
real HTTP on 127.0.0.1, in a process of its own so its CPU and memory are not ours). One
player in --excluded-every is excluded (Y) and is self-excluded by the run.

Per mark it prints players/s (planning and working the run, wall clock), the peak of
Python's allocations during the run (tracemalloc, reset per run) and the process's maximum
resident set size so far (getrusage). Streaming means the peak stays flat from 10k to 100k
players; a re-check that loaded every player would grow tenfold.
"""

import argparse
import io
import multiprocessing
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks import common  # noqa: E402
from benchmarks.common import database_drop, database_recreate  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pam_bench_exclusions"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_EXCLUSIONS_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--marks", default="10000,50000,100000", help="player counts to re-check at")
    parser.add_argument("--excluded-every", type=int, default=1000, help="one player in N is excluded (Y)")
    parser.add_argument("--batch-size", type=int, default=1000, help="players per GAMSTOP batch request")
    parser.add_argument(
        "--tracemalloc",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="trace Python allocations (the peak; costs some speed)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args(argv)
    args.mark_list = sorted({int(m) for m in args.marks.split(",") if m.strip()})
    return args


def environment_set(args: argparse.Namespace) -> None:
    # Celery eager (no broker): the few events of the hits are delivered in-process.
    common.environment_set(
        args.database_url,
        EXCLUSIONS_GAMSTOP_BATCH_SIZE=str(args.batch_size),
        EXCLUSIONS_BREAKER_FAILURES="1000",
    )


# --- the fake register, in its own process ---------------------------------------------------


def _email(i: int) -> str:
    return f"bench{i}@example.com"


def _serve_fake(excluded_every: int, max_players: int, port_queue) -> None:
    from apps.exclusions.fakes import FakeGamstop

    fake = FakeGamstop(excluded={_email(i): "Y" for i in range(0, max_players, excluded_every)})
    fake.keep_bodies = False
    fake.start()
    port_queue.put(fake.port)
    while True:
        time.sleep(3600)


def fake_start(args) -> tuple[multiprocessing.Process, str]:
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(
        target=_serve_fake, args=(args.excluded_every, max(args.mark_list), ports), daemon=True
    )
    process.start()
    return process, f"http://127.0.0.1:{ports.get(timeout=60)}"


# --- players ---------------------------------------------------------------------------------


def players_copy(brand, start: int, stop: int) -> None:
    """Players start..stop-1 of the brand, by COPY (no Django objects)."""
    from django.db import connection
    from django.utils import timezone

    from apps.players.models import Player

    columns = [
        "brand_id",
        "username",
        "email",
        "password",
        "first_name",
        "last_name",
        "date_of_birth",
        "country",
        "address_line",
        "city",
        "postcode",
        "mobile",
        "national_id",
        "currency_id",
        "status",
        "status_reason",
        "kyc_status",
        "marketing_opt_in",
        "registered_at",
    ]
    now = timezone.now().isoformat()
    table = Player._meta.db_table
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # noqa: S608
            buffer = io.StringIO()
            for i in range(start, stop):
                row = [
                    str(brand.pk),
                    f"bench{i}",
                    _email(i),
                    "!",
                    "Alex",
                    f"Lastname{i}",
                    "1990-05-17",
                    "GB",
                    "1 High Street",
                    "London",
                    "SW1A 2AA",
                    f"+4474{i:08d}",
                    "",
                    "GBP",
                    "active",
                    "",
                    "verified",
                    "t",
                    now,
                ]
                buffer.write("\t".join(row) + "\n")
                if buffer.tell() > 1 << 20:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        cursor.execute(f"ANALYZE {table}")


def fixtures_create(fake_url: str):
    from apps.core.models import Currency
    from apps.exclusions.models import Register, RegisterConfig
    from apps.tenants.models import Brand, Operator

    operator = Operator.objects.create(code="bench", name="Bench", legal_name="Bench Ltd")
    brand = Brand.objects.create(
        operator=operator,
        code="bench-uk",
        name="Bench UK",
        jurisdiction="GB",
        default_currency=Currency.objects.get(code="GBP"),
    )
    brand.currencies.add(Currency.objects.get(code="GBP"))
    RegisterConfig.objects.create(
        brand=brand,
        register=Register.GAMSTOP,
        base_url=fake_url,
        batch_url=f"{fake_url}/batch",
        api_key="fake-gamstop-key",
        timeout_seconds=30,
    )
    return brand


# --- the measurement -------------------------------------------------------------------------


def recheck(brand, use_tracemalloc: bool) -> dict:
    from apps.exclusions.batch import batch_run_resume, batch_run_start

    if use_tracemalloc:
        tracemalloc.start()
        tracemalloc.reset_peak()
    started = time.perf_counter()
    run = batch_run_start(brand=brand, register="gamstop")
    planned = time.perf_counter()
    run = batch_run_resume(run)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if use_tracemalloc else None
    if use_tracemalloc:
        tracemalloc.stop()
    return {
        "players": run.players_total,
        "chunks": run.chunks_total,
        "status": run.status,
        "hits": run.hits,
        "errors": run.errors,
        "seconds": elapsed,
        "plan_seconds": planned - started,
        "players_per_second": run.players_total / elapsed if elapsed else float("nan"),
        "peak_traced_mib": peak / 2**20 if peak is not None else None,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    environment_set(args)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from apps.players.models import Player

    load = os.getloadavg()
    print(
        f"exclusions re-check benchmark on {os.cpu_count()} cores;"
        f" load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"database {args.database_url} (made anew); fake GAMSTOP in its own process;"
        f" {args.batch_size} players per batch request; 1 in {args.excluded_every} excluded;"
        f" tracemalloc {'on' if args.tracemalloc else 'off'}"
    )
    database_recreate(args.database_url)
    fake, fake_url = fake_start(args)
    results = []
    try:
        call_command("migrate", verbosity=0, interactive=False)
        brand = fixtures_create(fake_url)
        have = 0
        print(
            f"{'players':>8} {'chunks':>6} {'hits':>5} {'errors':>6} {'plan s':>7} {'total s':>8}"
            f" {'players/s':>10} {'peak traced MiB':>16} {'max RSS MiB':>12}"
        )
        for mark in args.mark_list:
            copy_started = time.perf_counter()
            players_copy(brand, have, mark)
            # players excluded by the previous mark's run stay excluded (and are not re-checked)
            have = mark
            copy_seconds = time.perf_counter() - copy_started
            result = recheck(brand, args.tracemalloc)
            result["mark"], result["copy_seconds"] = mark, copy_seconds
            results.append(result)
            peak = f"{result['peak_traced_mib']:.1f}" if result["peak_traced_mib"] is not None else "-"
            print(
                f"{result['players']:>8} {result['chunks']:>6} {result['hits']:>5} {result['errors']:>6}"
                f" {result['plan_seconds']:>7.2f} {result['seconds']:>8.2f}"
                f" {result['players_per_second']:>10.0f}"
                f" {peak:>16} {result['maxrss_mib']:>12.1f}"
            )
        excluded = Player.objects.filter(brand=brand, status="self_excluded").count()
        expected = len(range(0, max(args.mark_list), args.excluded_every))
        ok = excluded == expected and all(r["status"] == "done" and r["errors"] == 0 for r in results)
        print(f"check: {excluded} players self-excluded (expected {expected}); {'OK' if ok else 'FAILED'}")
        if args.tracemalloc and len(results) > 1:
            first, last = results[0], results[-1]
            print(
                f"memory: peak {first['peak_traced_mib']:.1f} MiB at {first['players']} players,"
                f" {last['peak_traced_mib']:.1f} MiB at {last['players']}"
                f" ({last['players'] / first['players']:.0f}x the players,"
                f" {last['peak_traced_mib'] / first['peak_traced_mib']:.2f}x the memory)"
            )
        return 0 if ok else 1
    finally:
        fake.terminate()
        connections.close_all()
        if not args.keep_db:
            database_drop(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
