"""Live dashboards benchmark (a measurement, not a test): from an event's commit to its
receipt on a staff member's socket, through the real outbox dispatch, the Redis channel
layer and a real ASGI server, and whether any message is lost.

    make benchmark-realtime            # or: .venv/bin/python benchmarks/realtime.py
    .venv/bin/python benchmarks/realtime.py --rate 500 --duration 20 --alert-share 0.1 --help

Setup, on PostgreSQL in a database of its own (dropped and made anew:
`pam_bench_realtime`) and Redis (db 14, flushed): the role groups, one operator with
--brands brands (5), and --clients staff users (200, compliance officers), each granted
one brand (round robin: 40 per brand), each with a signed-in session made by Django's
session store, as a login and an accepted second-factor code would.

Then, in separate processes:
- the server: `daphne pam.asgi:application` (HTTP and websockets), --servers processes
  (2, as production runs several; the sockets are spread over them), with the Redis
  channel layer;
- the clients: --clients websockets (`/ws/dashboards/?streams=alerts,ops`, the staff
  session cookie, the Origin a browser sends), in --client-procs processes (asyncio, a
  minimal RFC 6455 client: no extra dependency); each records every message with its
  receipt time;
- the publishers: --publishers processes together publishing --rate events/s for
  --duration seconds, each event `apps.core.events.publish` in its own transaction (a
  real outbox row). A share of --alert-share are `rules.alert_raised` (pushed one by one
  to the brand's 40 sockets), the rest `wallet.bet_placed` (counted, pushed as one
  snapshot per brand per second). Only the dashboards' handlers are subscribed: the rules
  engine and the timeline have their own benchmarks, and this one measures the live path.
  The commit time is taken by the transaction's first on-commit callback. A publisher that
  falls behind its schedule publishes as fast as it can until --duration is over: the
  achieved rate is printed;
- the dispatch, by --dispatch: `batch` (the default, production's path): a worker process
  delivers the committed events in batches of up to `relay.BATCH_MAX` with
  `outbox.events_dispatch`, as a Celery worker does with the relay's messages (it takes
  them from the outbox every 10 ms, standing in for the relay's message every 50 ms at
  most); `outbox`: eager `outbox.event_dispatch` on commit, one event at a time (the
  embedded default's path: one delivery row, lock and commit per event and handler);
  `direct`, a what-if: the dashboards' handlers called on commit without the outbox's
  delivery bookkeeping.

Measured: for alerts, receipt time minus commit time of every (event, socket) pair, and
the pairs never received (lost) or received twice; for counters, for each bet the first
snapshot on each socket whose count includes it (its latency is a snapshot's receipt
minus the bet's commit) and whether each socket's last snapshot counts every bet. Target
(issue 8): p99 under 250 ms, nothing lost.
"""

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks import common  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pam_bench_realtime"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
TARGET_P99_MS = 250


def environment_set(args) -> None:
    common.environment_set(args.database_url, REDIS_URL=args.redis_url, DATABASE_POOL="true")


# --- setup --------------------------------------------------------------------------------


def setup(args) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from guardian.shortcuts import assign_perm

    from apps.core.models import Currency
    from apps.tenants.models import Brand, Operator, StaffUser
    from apps.tenants.services import roles_sync

    call_command("migrate", verbosity=0, interactive=False)
    roles_sync()
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    gbp, _ = Currency.objects.get_or_create(code="GBP", defaults={"name": "Pound sterling", "exponent": 2})
    operator = Operator.objects.create(code="bench", name="Bench", legal_name="Bench Ltd")
    brands = []
    for n in range(args.brands):
        brand = Brand.objects.create(
            operator=operator, code=f"bench-{n}", name=f"Bench {n}", jurisdiction="GB", default_currency=gbp
        )
        brand.currencies.add(gbp)
        brands.append(brand.pk)
    from django.contrib.auth.models import Group

    role = Group.objects.get(name="Compliance officer")
    clients = []
    for n in range(args.clients):
        user = StaffUser.objects.create(username=f"staff{n}", is_staff=True, operator=operator)
        user.set_unusable_password()
        user.save()
        user.groups.add(role)
        brand_id = brands[n % len(brands)]
        assign_perm("tenants.access_brand", user, Brand.objects.get(pk=brand_id))
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        # What the verify page leaves: a session that accepted the user's second factor.
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.create()
        clients.append({"brand": brand_id, "session": session.session_key})
    return {"brands": brands, "clients": clients}


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_start(port: int) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "pam.asgi:application"],
        cwd=BASE_DIR,
        env={**os.environ, "PYTHONPATH": str(BASE_DIR)},
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("PAM_BENCH_SERVER_LOG", os.devnull), "w"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("daphne did not start")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the clients: a minimal websocket client ------------------------------------------------


async def ws_connect(port: int, session: str, query: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws/dashboards/?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={session}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    return reader, writer


def ws_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + mask + masked


async def ws_messages(reader, writer):
    """Yield (receipt time, text) of each text message; answer pings; stop at close."""
    parts = []
    while True:
        b0, b1 = await reader.readexactly(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        opcode = b0 & 0x0F
        if opcode == 0x9:
            writer.write(ws_frame(0xA, payload))
            continue
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            raise ConnectionError(f"closed by the server: {code} {payload[2:]!r}")
        if opcode in (0x1, 0x0):
            parts.append(payload)
            if b0 & 0x80:
                yield time.time(), b"".join(parts)
                parts = []


def clients_run(ports: list[int], clients: list[dict], out_path: str, ready, stop_at) -> None:
    async def one(index: int, client: dict, records: list, connected: list):
        port = ports[index % len(ports)]  # spread over the servers, each brand on every one
        reader, writer = await ws_connect(port, client["session"], "streams=alerts,ops")
        connected.append(index)
        async for received, text in ws_messages(reader, writer):
            message = json.loads(text)
            kind = message.get("type")
            if kind == "ops.snapshot":
                count = sum(minute["n"]["bet"] for minute in message["data"]["minutes"])
                records.append((index, "s", message["brand_id"], received, count))
            elif message.get("stream") == "alerts":
                records.append((index, "a", message["brand_id"], received, message["id"]))
            if stop_at.value and time.time() > stop_at.value:
                break
        writer.close()

    async def main():
        records, connected = [], []
        tasks = [asyncio.create_task(one(i, c, records, connected)) for i, c in clients]
        while len(connected) < len(clients):
            await asyncio.sleep(0.05)
            failed = [t for t in tasks if t.done() and t.exception()]
            if failed:
                raise failed[0].exception()
        ready.release()
        while time.time() < stop_at.value or stop_at.value == 0:
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.1)
        early = [t for t in tasks if t.done()]
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for task, outcome in zip(tasks, outcomes, strict=True):
            if task in early:
                print(f"a socket ended before the run did: {outcome!r}", flush=True)
        with open(out_path, "w") as f:
            json.dump({"records": records, "cpu": time.process_time()}, f)

    asyncio.run(main())


# --- the worker (--dispatch batch) ---------------------------------------------------------


def worker_run(args, done) -> None:
    """What a Celery worker does with the relay's messages: deliver the committed events,
    up to relay.BATCH_MAX at a time, with outbox.events_dispatch. It takes the undispatched
    events from the outbox itself (as the sweep does, without its grace period) every few
    milliseconds, which stands in for the relay's message (sent every 50 ms at most)."""
    environment_set(args)
    import django

    django.setup()
    from apps.core import events as core_events
    from apps.core import outbox
    from apps.core.models import Event
    from apps.core.relay import BATCH_MAX

    for event_type, subs in list(core_events._subscriptions.items()):
        core_events._subscriptions[event_type] = {
            name: sub for name, sub in subs.items() if name.startswith("apps.dashboards.")
        }
    while True:
        ids = list(
            Event.objects.filter(dispatched_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH_MAX]
        )
        if ids:
            outbox.events_dispatch(event_ids=ids)
        elif done.value and time.time() > done.value:
            break
        else:
            time.sleep(0.01)
    from apps.dashboards.push import push_flush

    push_flush(10)


# --- the publishers -------------------------------------------------------------------------


def publisher_run(args, brands: list[int], rate: float, start_at: float, seed: int, out_path: str) -> None:
    environment_set(args)
    import django

    django.setup()
    from django.db import transaction

    from apps.core import events as core_events
    from apps.core.actors import system_actor
    from apps.core.events import publish
    from apps.rules.events import AlertRaised
    from apps.wallet.events import BetPlaced

    # Only the dashboards' handlers: this measures the live path (see the docstring).
    for event_type, subs in list(core_events._subscriptions.items()):
        core_events._subscriptions[event_type] = {
            name: sub for name, sub in subs.items() if name.startswith("apps.dashboards.")
        }
    direct = args.dispatch == "direct"
    if direct:
        # What-if: the handlers called after commit without the outbox's delivery records.
        from apps.core import relay
        from apps.dashboards import handlers

        relay.dispatch_after_commit = lambda event_id: None
        subscribed = {
            t: [s.handler for s in core_events.subscriptions_for(t)] for t in ("rules.alert_raised",)
        }
        subscribed["wallet.bet_placed"] = [lambda event: handlers.dashboards_count_on_event([event])]
    elif args.dispatch == "batch":
        # The worker process (worker_run) delivers what commits, in batches, as Celery would.
        from apps.core import relay

        relay.dispatch_after_commit = lambda event_id: None
    actor = system_actor("benchmark")
    rng = random.Random(seed)
    log = []
    total = int(rate * args.duration)
    while time.time() < start_at:
        time.sleep(0.005)
    started = time.time()
    for n in range(total):
        due = started + n / rate
        if time.time() - started > args.duration:
            break  # behind the schedule: the achieved rate is what the machine could do
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        brand = rng.choice(brands)
        player = rng.randrange(1, 1000)
        alert = rng.random() < args.alert_share
        committed = []
        with transaction.atomic():
            # Registered first, so it runs first after COMMIT (before the dispatch).
            transaction.on_commit(lambda committed=committed: committed.append(time.time()))
            if alert:
                event = AlertRaised(
                    hit_id=n,
                    rule_id=1,
                    rule_name="bench",
                    player_id=player,
                    brand_id=brand,
                    severity="high",
                    text="x",
                )
            else:
                event = BetPlaced(
                    transaction_id=n,
                    wallet_id=1,
                    player_id=player,
                    brand_id=brand,
                    currency="GBP",
                    amount=100,
                    cash=0,
                    bonus=0,
                    reserved=0,
                    debt=0,
                )
            row = publish(event, actor=actor)
            if direct:
                transaction.on_commit(lambda row=row: [h(row) for h in subscribed[row.type]])
        log.append((row.pk, brand, "a" if alert else "b", committed[0]))
    from apps.dashboards.push import push_flush

    push_flush(10)
    finished = time.time()
    with open(out_path, "w") as f:
        json.dump({"log": log, "started": started, "finished": finished, "cpu": time.process_time()}, f)


# --- analysis -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def analyse(setup_info: dict, published: list, records: list) -> dict:
    brand_of_client = {i: c["brand"] for i, c in enumerate(setup_info["clients"])}
    alerts_by_brand = defaultdict(dict)  # brand -> event id -> commit time
    bets_by_brand = defaultdict(list)  # brand -> commit times, in commit order
    for event_id, brand, kind, committed in published:
        if kind == "a":
            alerts_by_brand[brand][event_id] = committed
        else:
            bets_by_brand[brand].append(committed)
    for times in bets_by_brand.values():
        times.sort()

    alert_latencies, lost, duplicates, foreign, lost_examples = [], 0, 0, 0, []
    got = defaultdict(list)
    snapshots = defaultdict(list)
    for index, kind, brand, received, value in records:
        if brand != brand_of_client[index]:
            foreign += 1
            continue
        if kind == "a":
            got[index].append((value, received))
        else:
            snapshots[index].append((received, value))
    for index, brand in brand_of_client.items():
        expected = alerts_by_brand[brand]
        seen = {}
        for event_id, received in got[index]:
            if event_id in seen:
                duplicates += 1
                continue
            seen[event_id] = received
            if event_id in expected:
                alert_latencies.append((received - expected[event_id]) * 1000)
        missing = set(expected) - set(seen)
        lost += len(missing)
        lost_examples += [(index, brand, event_id) for event_id in sorted(missing)]

    bet_latencies, counter_short = [], 0
    for index, brand in brand_of_client.items():
        times = bets_by_brand[brand]
        done = 0
        for received, count in sorted(snapshots[index]):
            count = min(count, len(times))
            while done < count:
                bet_latencies.append((received - times[done]) * 1000)
                done += 1
        if done < len(times):
            counter_short += len(times) - done
    return {
        "alert_messages_expected": sum(len(alerts_by_brand[b]) for b in brand_of_client.values()),
        "alert_latency_ms": alert_latencies,
        "alerts_lost": lost,
        "lost_examples": lost_examples[:40],
        "alerts_duplicated": duplicates,
        "foreign_brand_messages": foreign,
        "bet_latency_ms": bet_latencies,
        "bets_missing_from_last_snapshot": counter_short,
        "snapshots": sum(len(v) for v in snapshots.values()),
    }


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: none"
    return (
        f"{name}: n={len(values)} p50={percentile(values, 50):.1f} ms p90={percentile(values, 90):.1f} ms "
        f"p99={percentile(values, 99):.1f} ms max={max(values):.1f} ms mean={statistics.fmean(values):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--brands", type=int, default=5)
    parser.add_argument(
        "--rate", type=float, default=500.0, help="events per second, all publishers together"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of publishing")
    parser.add_argument("--alert-share", type=float, default=0.1, help="share of events pushed one by one")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument(
        "--servers", type=int, default=2, help="daphne processes (the sockets are spread over them)"
    )
    parser.add_argument(
        "--dispatch",
        choices=["batch", "outbox", "direct"],
        default="batch",
        help="batch: a worker process delivers committed events in batches with outbox.events_dispatch"
        " (the relay's and Celery's path); outbox: eager event_dispatch, one event at a time (the"
        " embedded default's path); direct: a what-if, the dashboards' handlers called on commit"
        " without the outbox's bookkeeping",
    )
    parser.add_argument("--synchronous-commit-off", action="store_true", help="a what-if: no WAL flush wait")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    environment_set(args)
    common.database_recreate(args.database_url)
    if args.synchronous_commit_off:
        import psycopg

        with psycopg.connect(common.libpq_conninfo(args.database_url), autocommit=True) as conn:
            name = args.database_url.rpartition("/")[2]
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    print(f"setup: {args.brands} brands, {args.clients} staff sessions ...", flush=True)
    info = setup(args)
    ports = [free_port() for _ in range(args.servers)]
    servers = [server_start(port) for port in ports]
    print(f"daphne x{args.servers} on 127.0.0.1:{ports}; connecting {args.clients} sockets ...", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="pam-bench-realtime-"))
    ctx = multiprocessing.get_context("spawn")
    stop_at = ctx.Value("d", 0.0)
    ready = ctx.Semaphore(0)
    indexed = list(enumerate(info["clients"]))
    client_procs = []
    for p in range(args.client_procs):
        share = indexed[p :: args.client_procs]
        proc = ctx.Process(
            target=clients_run, args=(ports, share, str(tmp / f"clients{p}.json"), ready, stop_at)
        )
        proc.start()
        client_procs.append(proc)
    for _ in client_procs:
        if not ready.acquire(timeout=120):
            raise SystemExit("the sockets did not all connect")
    time.sleep(2.0)  # the connect-time snapshots are delivered; nothing is in flight
    print(
        f"dispatch: {args.dispatch}; publishing {args.rate:.0f} events/s for {args.duration:.0f} s"
        f" ({args.alert_share:.0%} alerts) ...",
        flush=True,
    )
    start_at = time.time() + 1.0
    server_cpu_start = sum(process_cpu(server.pid) for server in servers)
    worker_done = ctx.Value("d", 0.0)
    worker = None
    if args.dispatch == "batch":
        worker = ctx.Process(target=worker_run, args=(args, worker_done))
        worker.start()
    publishers = []
    for p in range(args.publishers):
        proc = ctx.Process(
            target=publisher_run,
            args=(args, info["brands"], args.rate / args.publishers, start_at, p, str(tmp / f"pub{p}.json")),
        )
        proc.start()
        publishers.append(proc)
    for proc in publishers:
        proc.join()
    if worker is not None:
        worker_done.value = time.time()
        worker.join(60)
    stop_at.value = time.time() + 3.0  # the last snapshots (a tick) and pushes arrive
    for proc in client_procs:
        proc.join(60)
    server_cpu_end = sum(process_cpu(server.pid) for server in servers)
    load_end = os.getloadavg()[0]
    for server in servers:
        server.terminate()
        server.wait(10)

    cpu = {"server": server_cpu_end - server_cpu_start, "publishers": 0.0, "clients": 0.0}
    published, spans = [], []
    for p in range(args.publishers):
        data = json.loads((tmp / f"pub{p}.json").read_text())
        published += [tuple(row) for row in data["log"]]
        spans.append((data["started"], data["finished"]))
        cpu["publishers"] += data["cpu"]
    records = []
    for p in range(args.client_procs):
        data = json.loads((tmp / f"clients{p}.json").read_text())
        records += [tuple(r) for r in data["records"]]
        cpu["clients"] += data["cpu"]
    seconds = max(s[1] for s in spans) - min(s[0] for s in spans)
    result = analyse(info, published, records)

    print()
    alerts = sum(1 for r in published if r[2] == "a")
    print(
        f"published {len(published)} events in {seconds:.1f} s: {len(published) / seconds:.0f} events/s"
        f" achieved (asked {args.rate:.0f}); alerts {alerts}, bets {len(published) - alerts}"
    )
    print(summary("alerts, commit -> socket", result["alert_latency_ms"]))
    print(
        f"alerts: {result['alert_messages_expected']} (event, socket) pairs expected;"
        f" lost {result['alerts_lost']}, duplicated {result['alerts_duplicated']};"
        f" another brand's messages received: {result['foreign_brand_messages']}"
    )
    if result["lost_examples"]:
        print("lost (socket, event id, committed at):", result["lost_examples"])
    print(summary("bets, commit -> first snapshot counting them", result["bet_latency_ms"]))
    print(
        f"snapshots received: {result['snapshots']}; bets missing from the sockets' last snapshots: "
        f"{result['bets_missing_from_last_snapshot']}"
    )
    print(
        f"CPU seconds during the run: servers {cpu['server']:.1f}, publishers {cpu['publishers']:.1f} (whole"
        f" process), clients {cpu['clients']:.1f} (whole process); machine: {os.cpu_count()} cores,"
        f" load average {load_end:.1f} at the end (other work on the machine included)"
    )
    p99 = percentile(result["alert_latency_ms"], 99)
    verdict = "MET" if p99 < TARGET_P99_MS and result["alerts_lost"] == 0 else "MISSED"
    print(f"target: alerts p99 < {TARGET_P99_MS} ms and nothing lost: {verdict}")
    if not args.keep_db:
        common.database_drop(args.database_url)


if __name__ == "__main__":
    main()
