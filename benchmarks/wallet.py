"""Wallet benchmark (a measurement, not a test): how fast does money move, and at what cost?

    make benchmark-wallet                      # or: .venv/bin/python benchmarks/wallet.py
    .venv/bin/python benchmarks/wallet.py --help

One run, on PostgreSQL, in a database of its own (dropped and made anew: `pam_bench`):

  (a) raw psycopg 3, no Django: per operation the SQL the wallet service sends (claim the
      idempotency key, conditional wallet UPDATE, entries INSERT with the house-account
      subselect, outbox event INSERT, COMMIT; a win also share-locks its bet and checks it
      was not rolled back). This is the baseline: what the database work alone costs.
  (b) the wallet service in-process (apps.wallet.services.bet_place / win_settle), Celery
      eager OFF: the after-commit dispatch is a publish to a Redis broker.
  (c) the Hub88 bet and win endpoints over HTTP, signed with RSA both ways, under
      production servers started as subprocesses for each cell (gunicorn gthread on
      pam.wsgi, uvicorn on pam.asgi, and uvicorn with Django's psycopg pool as a what-if;
      2 worker processes each), driven by one keep-alive HTTP connection per worker.

Every mode runs the same workload: each worker alternates a bet and a win that settles
that bet, on its own wallet (distinct) or all on one wallet (hot), at 1, 8 and 32
concurrent workers. The workers of (a) and (b) run both as processes (no GIL between
them) and as threads of one process (fewer runnable processes on 2 cores): each is compared
with (a) run the same way; `--executor process|thread` measures only one.
It prints ops/s, p50, p99 and the ratios to (a), then checks every wallet: its balance
equals its funding minus the bets plus the wins the workers saw succeed, and equals the
sum of its ledger entries; every transaction's entries sum to zero; one event per
transaction. `--analysis` (on by default) adds where the time goes: statements per
operation, a cProfile of the service and of the Hub88 view in-process, EXPLAIN ANALYZE,
the cost of RSA and of the after-commit dispatch, and CPU per operation by process group.
"""

import argparse
import contextlib
import cProfile
import hashlib
import http.client
import io
import json
import math
import multiprocessing
import os
import platform
import pstats
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from array import array
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks import common  # noqa: E402
from benchmarks.common import database_drop, database_recreate, libpq_conninfo  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pam_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"
SOURCE = "bench"  # the idempotency-key source of modes (a) and (b)
HUB88_SOURCE = "hub88"
GAME_CODE = "bench_slot"
CURRENCY = "EUR"
FUNDING = 10**10  # minor units per wallet: the run never runs out of money
BET_AMOUNT = 100  # minor units (1.00 EUR); wins are 1..199, so wallets drift around their funding
WARMUP_PAIRS = 3  # bet+win pairs per worker before the clock starts (connections, caches)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL))
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per cell")
    parser.add_argument("--repeat", type=int, default=1, help="run every cell this many times; show medians")
    parser.add_argument("--workers", default="1,8,32", help="concurrency levels, comma-separated")
    parser.add_argument("--modes", default="a,b,c", help="which of a,b,c to run")
    parser.add_argument(
        "--executor",
        choices=["process", "thread", "both"],
        default="both",
        help="workers of (a) and (b) as processes, threads, or both (default); (c)'s clients are processes",
    )
    parser.add_argument(
        "--servers",
        default="gunicorn,uvicorn,uvicorn-pool",
        help="servers for (c), comma-separated: gunicorn (WSGI gthread), uvicorn (ASGI), uvicorn-pool"
        " (ASGI + Django's psycopg pool: benchmarks/pool_settings.py), daphne (ASGI, one process)",
    )
    parser.add_argument("--server-workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--server-threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    parser.add_argument(
        "--baseline-binding",
        choices=["server", "client"],
        default="server",
        help="(a): psycopg's default server-side binding with auto-prepare, or Django's client-side",
    )
    parser.add_argument(
        "--analysis", action=argparse.BooleanOptionalAction, default=True, help="profiles and breakdowns"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="do not drop the benchmark database at the end"
    )
    parser.add_argument("--json", default=str(BASE_DIR / "benchmarks" / "results" / "wallet-latest.json"))
    args = parser.parse_args(argv)
    args.worker_counts = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    args.mode_set = {m.strip() for m in args.modes.split(",") if m.strip()}
    args.server_list = [s.strip() for s in args.servers.split(",") if s.strip()]
    return args


def environment_set(args: argparse.Namespace) -> None:
    """Production-like settings for this process, its workers and the server subprocess."""
    common.environment_set(
        args.database_url,
        # Celery eager OFF: after commit, the dispatch is a publish to this broker.
        # Nothing consumes it during the run; the queue is deleted afterwards.
        CELERY_BROKER_URL=args.broker_url,
        REDIS_URL=args.broker_url,
        CACHE_KEY_PREFIX="pam-bench",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )


def django_setup() -> None:
    import warnings

    import django

    # whitenoise warns that collectstatic has not run; the benchmark serves no static file.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()


# --- small helpers ---------------------------------------------------------------------


def percentile(sorted_values, q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def fingerprint(*parts) -> str:
    """The same fingerprint the service computes (apps.wallet.services._fingerprint)."""
    return hashlib.sha256(json.dumps(parts, separators=(",", ":"), default=str).encode()).hexdigest()


def win_amount(rng: random.Random) -> int:
    return rng.randint(1, 2 * BET_AMOUNT - 1)


def _proc_cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry.name))
    return found


def _postgres_pids(database: str) -> list[int]:
    """PostgreSQL's own processes and the backends of this database (not other databases')."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            cmdline = (entry / "cmdline").read_text().replace("\0", " ")
        except (FileNotFoundError, ProcessLookupError):
            continue
        is_backend = "(" in cmdline or "[local]" in cmdline
        if not is_backend or f" {database} " in cmdline:
            pids.append(int(entry.name))
    return pids


def _machine_busy_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds used by groups of processes between start() and stop().

    Short-lived PostgreSQL backends that exit mid-cell are missed, so the postgres figure
    is a lower bound (our workers keep their connections for the whole cell).
    """

    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, groups: dict[str, callable]):
        self.groups = groups

    def _sample(self) -> dict:
        sample = {name: {pid: _proc_cpu_ticks(pid) for pid in pids()} for name, pids in self.groups.items()}
        sample["_machine"] = _machine_busy_ticks()
        return sample

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        used = {}
        for name in self.groups:
            ticks = sum(t - self.before[name].get(pid, 0) for pid, t in after[name].items())
            used[name] = ticks / self.HZ
        busy = after["_machine"][0] - self.before["_machine"][0]
        total = after["_machine"][1] - self.before["_machine"][1]
        used["machine_busy"] = busy / self.HZ
        used["machine_util"] = busy / total if total else 0.0
        return used


# --- the workers -----------------------------------------------------------------------


class Worker:
    """One concurrent client: alternates a bet and the win that settles it, on one wallet.

    Tracks what it saw succeed (the balance check uses it). Subclasses implement bet/win.
    """

    def __init__(self, *, index: int, tag: str, wallet: dict, seed: int, **_):
        self.index = index
        self.tag = tag
        self.wallet = wallet
        self.rng = random.Random(seed)
        self.seq = 0
        self.bets = 0  # minor units the worker saw taken
        self.wins = 0  # minor units the worker saw paid
        self.errors: list[str] = []
        self.succeeded = 0  # operations the worker saw succeed, warm-up included

    def pair(self) -> tuple[float, float]:
        """One bet and one win; their latencies in seconds (NaN when refused/failed)."""
        self.seq += 1
        bet_id = f"{self.tag}:{self.index}:{self.seq}:b"
        win_id = f"{self.tag}:{self.index}:{self.seq}:w"
        round_id = f"{self.tag}:{self.index}:{self.seq}"
        amount = win_amount(self.rng)
        t0 = time.perf_counter()
        ok = self._safely(self.bet, bet_id, round_id)
        t1 = time.perf_counter()
        if ok:
            self.bets += BET_AMOUNT
            self.succeeded += 1
            ok = self._safely(self.win, win_id, bet_id, round_id, amount)
            t2 = time.perf_counter()
            if ok:
                self.wins += amount
                self.succeeded += 1
            return t1 - t0, (t2 - t1) if ok else float("nan")
        return float("nan"), float("nan")

    def _safely(self, op, *args) -> bool:
        try:
            op(*args)
        except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not stop on one
            if len(self.errors) < 20:
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                self.errors.append("")
            self.on_error()
            return False
        return True

    def on_error(self) -> None:
        pass

    def prepare(self) -> None:
        for _ in range(WARMUP_PAIRS):
            self.pair()

    def run(self, start_at: float, duration: float, max_pairs: int) -> dict:
        while time.time() < start_at:
            time.sleep(min(0.005, max(0.0, start_at - time.time())))
        started = time.time()
        deadline = time.perf_counter() + (duration - (started - start_at))
        lat = array("d")
        pairs = 0
        while time.perf_counter() < deadline and pairs < max_pairs and self.more():
            bet, win = self.pair()
            lat.append(bet)
            lat.append(win)
            pairs += 1
        return {
            "index": self.index,
            "pid": os.getpid(),
            "started": started,
            "ended": time.time(),
            "latencies": lat.tobytes(),
            "errors": self.errors,
            "wallet_id": self.wallet["id"],
            "bets": self.bets,
            "wins": self.wins,
        }

    def more(self) -> bool:
        return True

    def close(self) -> dict:
        return {
            "wallet_id": self.wallet["id"],
            "bets": self.bets,
            "wins": self.wins,
            "succeeded": self.succeeded,
            "errors": self.errors,
        }


# (a) ---------------------------------------------------------------------------------


def baseline_statements() -> dict[str, str]:
    """The SQL of apps.wallet.services for a bet and a win, verbatim in shape."""
    from apps.responsible_gaming.guard import _STATE_SQL_TRY_SHARED, LOCK_STATE
    from apps.wallet.movements import MOVEMENTS, post_sql

    claim = (
        "INSERT INTO wallet_ledgertransaction (wallet_id, brand_id, kind, source, external_id,"
        " fingerprint, amount, currency_id, round_ref, game_ref, payment_ref, reverses_id, actor,"
        " correlation_id, metadata, created_at) VALUES (%(wallet)s, %(brand)s, %(kind)s, %(source)s,"
        " %(external_id)s, %(fingerprint)s, %(amount)s, %(currency)s, %(round_ref)s, %(game_ref)s,"
        " %(payment_ref)s, %(reverses)s, %(actor)s, %(cid)s, %(metadata)s::jsonb, %(now)s)"
        " ON CONFLICT (source, external_id) DO NOTHING RETURNING id"
    )
    return {
        "claim": claim,
        # The movement, its entries and its outbox event: one statement, as the service.
        "bet_post": post_sql(MOVEMENTS["debit_playable"]),
        "win_post": post_sql(MOVEMENTS["credit_cash"]),
        "bet_lock": (
            "SELECT id, kind, wallet_id FROM wallet_ledgertransaction"
            " WHERE source = %s AND external_id = %s FOR SHARE"
        ),
        "reversed": "SELECT EXISTS (SELECT 1 FROM wallet_ledgertransaction WHERE reverses_id = %s)",
        # The responsible-gaming guard's one read per bet and win (a player without limits).
        "guard": _STATE_SQL_TRY_SHARED,
        "guard_namespace": LOCK_STATE,
    }


BUCKETS = ("cash", "bonus", "reserved", "debt")
ENTRY_SIGN = {"cash": 1, "bonus": 1, "reserved": 1, "debt": -1}


class BaselineWorker(Worker):
    """(a): raw psycopg 3, one connection, the service's statements, no Django."""

    def __init__(self, *, database_url: str, binding: str, **kwargs):
        super().__init__(**kwargs)
        import psycopg

        factory = psycopg.ClientCursor if binding == "client" else psycopg.Cursor
        self.conn = psycopg.connect(libpq_conninfo(database_url), cursor_factory=factory)
        if binding == "client":
            self.conn.prepare_threshold = None  # as Django: no server-side prepared statements
        self.sql = baseline_statements()
        self.cid = uuid.uuid4().hex
        self.actor = "provider:bench"
        self.lock_holds: list[float] | None = None  # analysis: UPDATE done -> COMMIT done

    def _post(self, *, kind, external_id, amount, post, round_ref, metadata, lock_bet=None):
        w = self.wallet
        fp = fingerprint(kind, w["id"], CURRENCY, amount, round_ref, GAME_CODE, "", *(lock_bet or ()))
        conn = self.conn
        try:
            with conn.cursor() as cur:
                cur.execute(
                    self.sql["claim"],
                    {
                        "wallet": w["id"],
                        "brand": w["brand_id"],
                        "kind": kind,
                        "source": SOURCE,
                        "external_id": external_id,
                        "fingerprint": fp,
                        "amount": amount,
                        "currency": CURRENCY,
                        "round_ref": round_ref,
                        "game_ref": GAME_CODE,
                        "payment_ref": "",
                        "reverses": None,
                        "actor": self.actor,
                        "cid": self.cid,
                        "metadata": json.dumps(metadata),
                        "now": datetime.now(UTC),
                    },
                )
                txn_id = cur.fetchone()[0]
                cur.execute(
                    self.sql["guard"],
                    {
                        "now": datetime.now(UTC),
                        "player": w["player_id"],
                        "ns": self.sql["guard_namespace"],
                        "key": w["player_id"],
                    },
                )
                cur.fetchone()
                if lock_bet:
                    cur.execute(self.sql["bet_lock"], (SOURCE, lock_bet[0]))
                    bet_pk, bet_kind, bet_wallet = cur.fetchone()
                    if bet_kind != "bet" or bet_wallet != w["id"]:
                        raise RuntimeError("bet not standing")
                    cur.execute(self.sql["reversed"], (bet_pk,))
                    if cur.fetchone()[0]:
                        raise RuntimeError("bet rolled back")
                payload = {
                    "transaction_id": txn_id,
                    "wallet_id": w["id"],
                    "player_id": w["player_id"],
                    "brand_id": w["brand_id"],
                    "currency": CURRENCY,
                    "amount": amount,
                    "cash": 0,
                    "bonus": 0,
                    "reserved": 0,
                    "debt": 0,
                    "round_ref": round_ref,
                    "game_ref": GAME_CODE,
                    "payment_ref": "",
                    "metadata": metadata,
                }
                cur.execute(
                    post,
                    {
                        "wallet": w["id"],
                        "a": amount,
                        "txn": txn_id,
                        "brand": w["brand_id"],
                        "currency": CURRENCY,
                        "house_kind": "games",
                        "ev_type": f"wallet.{'bet_placed' if kind == 'bet' else 'win_settled'}",
                        "ev_player": w["player_id"],
                        "ev_payload": json.dumps(payload),
                        "ev_at": datetime.now(UTC),
                        "ev_cid": self.cid,
                        "ev_actor": self.actor,
                    },
                )
                row = cur.fetchone()
                locked_at = time.perf_counter()
                if row is None:
                    raise RuntimeError("insufficient funds")
            conn.commit()
            if self.lock_holds is not None:
                self.lock_holds.append(time.perf_counter() - locked_at)
        except BaseException:
            conn.rollback()
            raise

    def bet(self, bet_id, round_id):
        self._post(
            kind="bet",
            external_id=bet_id,
            amount=BET_AMOUNT,
            post=self.sql["bet_post"],
            round_ref=round_id,
            metadata={},
        )

    def win(self, win_id, bet_id, round_id, amount):
        self._post(
            kind="win",
            external_id=win_id,
            amount=amount,
            post=self.sql["win_post"],
            round_ref=round_id,
            metadata={"bet": bet_id},
            lock_bet=(bet_id,),
        )

    def close(self) -> dict:
        self.conn.close()
        return super().close()


# (b) ---------------------------------------------------------------------------------


class ServiceWorker(Worker):
    """(b): apps.wallet.services in this process (its own Django connection)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from apps.core.actors import provider_actor
        from apps.wallet import services
        from apps.wallet.models import Wallet

        self.services = services
        self.actor = provider_actor("bench")
        self.wallet_obj = Wallet.objects.get(pk=self.wallet["id"])

    def bet(self, bet_id, round_id):
        self.services.bet_place(
            wallet=self.wallet_obj,
            amount=BET_AMOUNT,
            source=SOURCE,
            external_id=bet_id,
            actor=self.actor,
            round_ref=round_id,
            game_ref=GAME_CODE,
        )

    def win(self, win_id, bet_id, round_id, amount):
        self.services.win_settle(
            wallet=self.wallet_obj,
            amount=amount,
            source=SOURCE,
            external_id=win_id,
            bet_external_id=bet_id,
            actor=self.actor,
            round_ref=round_id,
            game_ref=GAME_CODE,
        )

    def close(self) -> dict:
        from django.db import connection

        connection.close()
        return super().close()


# (c) ---------------------------------------------------------------------------------


def rsa_sign(private_pem: bytes, body: bytes) -> str:
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = _key_cache.get(private_pem)
    if key is None:
        key = _key_cache[private_pem] = serialization.load_pem_private_key(private_pem, password=None)
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_pem: bytes, body: bytes, signature: str) -> bool:
    import base64

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = _key_cache.get(public_pem)
    if key is None:
        key = _key_cache[public_pem] = serialization.load_pem_public_key(public_pem)
    try:
        key.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


_key_cache: dict = {}


class HubWorker(Worker):
    """(c): one keep-alive HTTP connection sending Hub88 bet and win requests, pre-signed.

    Requests are signed before the clock starts (signing is the aggregator's CPU, not
    ours); responses' signatures are verified on a sample (every 50th) to keep the
    client's CPU off the two cores the server needs.
    """

    def __init__(self, *, port: int, hub: dict, pairs: int, **kwargs):
        super().__init__(**kwargs)
        self.port = port
        self.hub = hub
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.prepared: list[tuple] = []
        self.user = self.wallet["hub_user"]
        self.token = self.wallet["hub_token"]
        for _ in range(pairs + WARMUP_PAIRS):
            self.seq += 1
            bet_id = str(uuid.uuid4())
            win_id = str(uuid.uuid4())
            round_id = f"{self.tag}-{self.index}-{self.seq}"
            amount = win_amount(self.rng)
            bet = self._request(
                "/transaction/bet",
                {
                    "user": self.user,
                    "transaction_uuid": bet_id,
                    "supplier_transaction_id": bet_id,
                    "token": self.token,
                    "round": round_id,
                    "round_closed": False,
                    "request_uuid": str(uuid.uuid4()),
                    "is_free": False,
                    "game_code": GAME_CODE,
                    "currency": CURRENCY,
                    "bet": "1.00",
                    "amount": BET_AMOUNT * 1000,  # 1/100000 units; EUR has 2 decimals
                    "meta": {},
                },
            )
            win = self._request(
                "/transaction/win",
                {
                    "user": self.user,
                    "transaction_uuid": win_id,
                    "supplier_transaction_id": win_id,
                    "token": self.token,
                    "round": round_id,
                    "round_closed": True,
                    "request_uuid": str(uuid.uuid4()),
                    "reference_transaction_uuid": bet_id,
                    "game_code": GAME_CODE,
                    "currency": CURRENCY,
                    "amount": amount * 1000,
                    "meta": {},
                },
            )
            self.prepared.append((bet, win, amount))
        self.prepared.reverse()  # pop() from the end
        self.responses = 0

    def _request(self, path: str, body: dict) -> tuple:
        raw = json.dumps(body, separators=(",", ":")).encode()
        return self.hub["base_path"] + path, raw, rsa_sign(self.hub["hub_private_pem"], raw)

    def _send(self, request) -> dict:
        path, raw, signature = request
        self.conn.request(
            "POST",
            path,
            body=raw,
            headers={"Content-Type": "application/json", "X-Hub88-Signature": signature},
        )
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        self.responses += 1
        if self.responses % 50 == 1:
            signature = response.getheader("X-Hub88-Signature") or ""
            if not rsa_verify(self.hub["operator_public_pem"], data, signature):
                raise RuntimeError("response signature does not verify")
        answer = json.loads(data)
        if answer.get("status") != "RS_OK":
            raise RuntimeError(f"{answer.get('status')}: {data[:200]!r}")
        return answer

    def on_error(self) -> None:
        self.conn.close()  # a fresh connection for the next request

    def pair(self) -> tuple[float, float]:
        bet, win, amount = self.prepared.pop()
        t0 = time.perf_counter()
        ok = self._safely(self._send, bet)
        t1 = time.perf_counter()
        if not ok:
            return float("nan"), float("nan")
        self.bets += BET_AMOUNT
        self.succeeded += 1
        ok = self._safely(self._send, win)
        t2 = time.perf_counter()
        if ok:
            self.wins += amount
            self.succeeded += 1
        return t1 - t0, (t2 - t1) if ok else float("nan")

    def more(self) -> bool:
        return bool(self.prepared)

    def run(self, start_at: float, duration: float, max_pairs: int) -> dict:
        # The warm-up's connection has sat idle while the other workers signed their
        # requests; servers close idle keep-alive connections (gunicorn after 2 s), so
        # start on a fresh one rather than fail the first request with a broken pipe.
        self.conn.close()
        return super().run(start_at, duration, max_pairs)

    def close(self) -> dict:
        self.conn.close()
        return super().close()


WORKER_CLASSES = {"a": BaselineWorker, "b": ServiceWorker, "c": HubWorker}


# --- slots: persistent threads or processes that host workers ---------------------------


def _slot_loop(recv, send) -> None:
    worker = None
    while True:
        message = recv()
        kind = message[0]
        try:
            if kind == "setup":
                worker = WORKER_CLASSES[message[1]](**message[2])
                worker.prepare()
                result = None
            elif kind == "run":
                result = worker.run(*message[1:])
            elif kind == "close":
                result = worker.close() if worker is not None else None
                worker = None
            elif kind == "exit":
                send(("ok", None))
                return
            else:
                raise ValueError(kind)
            send(("ok", result))
        except Exception:  # noqa: BLE001 - reported to the parent, which stops the run
            send(("error", traceback.format_exc()))


def _process_slot_main(conn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and tells us to exit
    _slot_loop(conn.recv, conn.send)


class ProcessSlots:
    """Forked once, right after django.setup() and before any connection is opened."""

    def __init__(self, n: int):
        ctx = multiprocessing.get_context("fork")
        self.conns, self.procs = [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_process_slot_main, args=(child,), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def send(self, i: int, message) -> None:
        self.conns[i].send(message)

    def recv(self, i: int):
        return self.conns[i].recv()

    def shutdown(self) -> None:
        for i, proc in enumerate(self.procs):
            with contextlib.suppress(Exception):
                self.conns[i].send(("exit",))
                self.conns[i].recv()
            proc.join(timeout=5)


class ThreadSlots:
    def __init__(self, n: int):
        self.inboxes = [queue.Queue() for _ in range(n)]
        self.outboxes = [queue.Queue() for _ in range(n)]
        self.threads = [
            threading.Thread(target=_slot_loop, args=(self.inboxes[i].get, self.outboxes[i].put), daemon=True)
            for i in range(n)
        ]
        for thread in self.threads:
            thread.start()

    def pids(self) -> list[int]:
        return [os.getpid()]

    def send(self, i: int, message) -> None:
        self.inboxes[i].put(message)

    def recv(self, i: int):
        return self.outboxes[i].get()

    def shutdown(self) -> None:
        for i in range(len(self.threads)):
            self.send(i, ("exit",))
            self.recv(i)


def slots_call(slots, n: int, messages) -> list:
    for i in range(n):
        slots.send(i, messages[i] if isinstance(messages, list) else messages)
    results, failures = [], []
    for i in range(n):
        status, value = slots.recv(i)
        (results if status == "ok" else failures).append(value)
    if failures:
        raise RuntimeError("a worker failed:\n" + failures[0])
    return results


# --- fixtures --------------------------------------------------------------------------


def fixtures_create(n_wallets: int) -> list[dict]:
    """An operator, a brand, players registered and wallets funded through the services."""
    from datetime import date

    from django.db import connection
    from django.test.utils import override_settings

    from apps.core.actors import system_actor
    from apps.core.models import Currency
    from apps.players.services import player_register
    from apps.tenants.models import Brand, Operator
    from apps.wallet.services import deposit_credit, wallet_get_or_create

    operator = Operator.objects.create(code="bench-operator", name="Bench", legal_name="Bench Ltd")
    brand = Brand.objects.create(
        operator=operator,
        code="bench-brand",
        name="Bench Brand",
        jurisdiction="MT",
        default_currency=Currency.objects.get(code=CURRENCY),
    )
    brand.currencies.add(CURRENCY)
    actor = system_actor("benchmark")
    wallets = []
    # Fewer hash rounds for setup only: registration is not what is measured.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for i in range(n_wallets):
            player = player_register(
                brand=brand,
                username=f"bench{i:03d}",
                email=f"bench{i:03d}@example.com",
                password="bench-password-2026",  # noqa: S106 - a throwaway benchmark player
                first_name="Bench",
                last_name=f"Player{i:03d}",
                date_of_birth=date(1990, 1, 1),
                country="MT",
                address_line="1 Bench Street",
                city="Valletta",
                postcode="VLT 1000",
                mobile=f"+3567920{i:04d}",
                currency_code=CURRENCY,
            )
            wallet = wallet_get_or_create(player=player, currency_code=CURRENCY)
            deposit_credit(
                wallet=wallet, amount=FUNDING, source="bench-funding", external_id=str(wallet.pk), actor=actor
            )
            wallets.append(
                {"id": wallet.pk, "brand_id": brand.pk, "player_id": player.pk, "username": player.username}
            )
    connection.close()
    return wallets


# --- Hub88 (c) -------------------------------------------------------------------------


def hub88_available() -> bool:
    return (BASE_DIR / "apps" / "games" / "providers" / "hub88" / "views.py").is_file()


def hub88_setup(wallets: list[dict]) -> dict | None:
    """Keys, the integration, the game and one launch token per wallet, through the games app.

    Returns what the clients need, or None (with the reason printed) when the adapter does
    not offer what this needs.
    """
    from datetime import timedelta

    try:
        from apps.core.actors import system_actor
        from apps.games.models import Game
        from apps.games.providers.hub88 import signing
        from apps.games.providers.hub88.services import hub88_integration_configure, hub88_operator_public_key
        from apps.games.services import game_session_open
        from apps.players.models import Player
        from apps.tenants.models import Brand
    except ImportError as exc:
        print(f"(c) SKIPPED: the Hub88 adapter is not importable yet ({exc})")
        return None
    actor = system_actor("benchmark")
    hub_private = signing.generate_private_key_pem()
    hub_public = signing.public_key_pem_from_private(hub_private)
    brand = Brand.objects.get(pk=wallets[0]["brand_id"])
    integration = hub88_integration_configure(
        brand=brand, actor=actor, hub88_public_key=hub_public, generate_operator_key=True, active=True
    )
    # The catalogue is maintained in the admin; there is no service for it.
    game, _ = Game.objects.get_or_create(provider="hub88", code=GAME_CODE, defaults={"name": "Bench Slot"})
    for wallet in wallets:
        player = Player.objects.get(pk=wallet["player_id"])
        _session, token = game_session_open(
            player=player, game=game, currency_code=CURRENCY, actor=actor, ttl=timedelta(hours=12)
        )
        wallet["hub_user"] = str(player.pk)
        wallet["hub_token"] = token
    from django.db import connection

    connection.close()
    return {
        "base_path": "/integrations/hub88",
        "hub_private_pem": hub_private.encode(),
        "operator_public_pem": hub88_operator_public_key(integration).encode(),
    }


# --- the server (c) --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVERS = {
    # ASGI: Django runs each request's sync view in a new thread, so its connection is new
    # for every request whatever CONN_MAX_AGE says; with CONN_MAX_AGE > 0 the finished
    # requests' connections also linger until garbage-collected (at 32 connections that
    # exhausts max_connections = 100). Hence CONN_MAX_AGE=0 here, as Django advises for ASGI.
    "uvicorn": {"DATABASE_CONN_MAX_AGE": "0"},
    # The same with Django's psycopg pool (benchmarks/pool_settings.py): a what-if.
    "uvicorn-pool": {"DJANGO_SETTINGS_MODULE": "benchmarks.pool_settings"},
    # WSGI: one connection per thread, kept between requests (CONN_MAX_AGE=60, as .env.example).
    "gunicorn": {"DATABASE_CONN_MAX_AGE": "60"},
    "daphne": {"DATABASE_CONN_MAX_AGE": "0"},
}


def server_available(kind: str) -> str:
    """Why this server cannot run here, or "" if it can."""
    if kind not in SERVERS:
        return f"unknown server {kind!r} (one of {', '.join(SERVERS)})"
    binary = Path(sys.executable).parent / kind.split("-")[0]
    if not binary.exists():
        return f"{binary.name} is not installed: pip install -r benchmarks/requirements.txt"
    if kind.endswith("-pool"):
        try:
            import psycopg_pool  # noqa: F401
        except ImportError:
            return "psycopg-pool is not installed: pip install -r benchmarks/requirements.txt"
    return ""


class Server:
    """A production server for pam as a subprocess; its process tree is measured for CPU.

    Started for each cell and stopped after it, so that no server holds connections while
    another mode runs (max_connections is 100 and the suites of others share it).
    """

    def __init__(self, kind: str, *, workers: int, threads: int, port: int):
        self.kind, self.port = kind, port or free_port()
        bin_dir = Path(sys.executable).parent
        base = kind.split("-")[0]
        if base == "uvicorn":
            cmd = [
                str(bin_dir / "uvicorn"),
                "pam.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--no-access-log",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ]
            self.describe = f"uvicorn {workers} workers (uvloop, httptools), pam.asgi"
        elif base == "gunicorn":
            cmd = [
                str(bin_dir / "gunicorn"),
                "pam.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
                "--no-control-socket",
                "--log-level",
                "warning",
            ]
            self.describe = f"gunicorn {workers} gthread workers x {threads} threads, pam.wsgi"
        else:
            cmd = [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "pam.asgi:application"]
            self.describe = "daphne (1 process), pam.asgi"
        overrides = SERVERS[kind]
        self.describe += ", " + ", ".join(f"{k}={v}" for k, v in overrides.items())
        env = {**os.environ, **overrides}
        # results/ is git-ignored, so a fresh clone does not have it yet.
        (BASE_DIR / "benchmarks" / "results").mkdir(exist_ok=True)
        self.log = open(BASE_DIR / "benchmarks" / "results" / f"server-{kind}.log", "a")  # noqa: SIM115
        self.proc = subprocess.Popen(  # noqa: S603 - our own server binary, fixed arguments
            cmd, cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{kind} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"{kind} did not answer /healthz within 60 s; see {self.log.name}")
        time.sleep(0.5)  # let every worker process finish starting

    def pids(self) -> list[int]:
        pids = [self.proc.pid]
        frontier = [self.proc.pid]
        while frontier:
            found = [c for p in frontier for c in _children(p)]
            pids += found
            frontier = found
        return pids

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


# --- cells -----------------------------------------------------------------------------


class Ledger:
    """What the workers saw succeed, per wallet, across the whole run."""

    def __init__(self):
        self.bets: dict[int, int] = {}
        self.wins: dict[int, int] = {}
        self.ops = 0  # measured operations
        self.succeeded = 0  # every operation that succeeded, warm-ups included

    def add(self, closed: dict) -> None:
        wid = closed["wallet_id"]
        self.bets[wid] = self.bets.get(wid, 0) + closed["bets"]
        self.wins[wid] = self.wins.get(wid, 0) + closed["wins"]
        self.succeeded += closed["succeeded"]


def run_cell(*, mode, label, slots, n, layout, wallets, args, ledger, spec_extra=None, cpu_groups=None):
    """One measurement: n workers of one mode, each on its own wallet or all on the hot one."""
    tag = f"{label}-{n}-{layout}-{uuid.uuid4().hex[:6]}"
    hot = wallets[-1]
    messages = []
    for i in range(n):
        spec = {
            "index": i,
            "tag": tag,
            "wallet": hot if layout == "hot" else wallets[i],
            "seed": random.Random(f"{tag}-{i}").randint(0, 2**31),
        }
        if mode == "a":
            spec.update(database_url=args.database_url, binding=args.baseline_binding)
        if spec_extra is not None:
            spec.update(spec_extra(i))
        messages.append(("setup", mode, spec))
    slots_call(slots, n, messages)
    meter = CpuMeter(cpu_groups or {})
    start_at = time.time() + 0.2
    meter.start()
    results = slots_call(slots, n, ("run", start_at, args.duration, 10**9))
    cpu = meter.stop()
    for closed in slots_call(slots, n, ("close",)):
        ledger.add(closed)
    latencies = array("d")
    errors = []
    for r in results:
        lat = array("d")
        lat.frombytes(r["latencies"])
        latencies.extend(lat)
        errors += r["errors"]
    ok = sorted(v for v in latencies if v == v)  # NaN marks a failed operation
    short = sum(1 for r in results if r["ended"] < start_at + args.duration - 0.05)
    if short:
        print(f"  note: {short} of {n} workers ran out of pre-signed requests before the end of the cell")
    window = max(r["ended"] for r in results) - start_at
    ledger.ops += len(ok)
    return {
        "mode": mode,
        "label": label,
        "workers": n,
        "wallets": layout,
        "ops": len(ok),
        "failed": len(latencies) - len(ok),
        "seconds": round(window, 3),
        "ops_per_s": len(ok) / window if window > 0 else 0.0,
        "p50_ms": percentile(ok, 0.50) * 1000,
        "p99_ms": percentile(ok, 0.99) * 1000,
        "errors": [e for e in errors if e][:5],
        "cpu_s": cpu,
    }


# --- checks ----------------------------------------------------------------------------


def balances_check(wallets: list[dict], ledger: Ledger) -> list[str]:
    """Every wallet against what its workers saw and against its entries; the ledger's sums."""
    from django.db import connection

    problems = []
    ids = [w["id"] for w in wallets]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, cash, bonus, reserved, debt FROM wallet_wallet WHERE id = ANY(%s)", [ids])
        rows = {r[0]: dict(zip(BUCKETS, r[1:], strict=True)) for r in cursor.fetchall()}
        cursor.execute(
            "SELECT wallet_id, bucket, SUM(amount) FROM wallet_ledgerentry WHERE wallet_id = ANY(%s)"
            " GROUP BY wallet_id, bucket",
            [ids],
        )
        sums: dict[int, dict[str, int]] = {}
        for wallet_id, bucket, total in cursor.fetchall():
            sums.setdefault(wallet_id, {})[bucket] = int(total)
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT transaction_id FROM wallet_ledgerentry"
            " GROUP BY transaction_id HAVING SUM(amount) <> 0) unbalanced"
        )
        unbalanced = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM wallet_ledgertransaction WHERE kind IN ('bet', 'win')")
        transactions = cursor.fetchone()[0]
        cursor.execute(
            "SELECT COUNT(*) FROM core_event WHERE type IN ('wallet.bet_placed', 'wallet.win_settled')"
        )
        events = cursor.fetchone()[0]
    for wallet_id in ids:
        balance = rows[wallet_id]
        expected_cash = FUNDING - ledger.bets.get(wallet_id, 0) + ledger.wins.get(wallet_id, 0)
        if balance["cash"] != expected_cash or any(balance[b] for b in ("bonus", "reserved", "debt")):
            problems.append(f"wallet {wallet_id}: {balance}, expected cash {expected_cash} and nothing else")
        entries = sums.get(wallet_id, {})
        for bucket in BUCKETS:
            if ENTRY_SIGN[bucket] * balance[bucket] != entries.get(bucket, 0):
                problems.append(
                    f"wallet {wallet_id}: {bucket} {balance[bucket]} != entries {entries.get(bucket, 0)}"
                )
    if unbalanced:
        problems.append(f"{unbalanced} transactions whose entries do not sum to zero")
    if transactions != ledger.succeeded:
        problems.append(
            f"{transactions} bet/win transactions, but the workers saw {ledger.succeeded} succeed"
        )
    if events != transactions:
        problems.append(f"{events} bet/win events for {transactions} transactions")
    connection.close()
    return problems, {"wallets": len(ids), "transactions": transactions, "events": events}


# --- where the time goes ---------------------------------------------------------------


def _profile_top(profile: cProfile.Profile, ops: int, limit: int = 14) -> str:
    """The functions with the most own time, per operation."""
    ranked = sorted(pstats.Stats(profile).stats.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]
    rows = [f"  {'us/op':>7}  {'calls/op':>8}  function"]
    site = sys.prefix + "/lib/python3.11/site-packages/"
    for (filename, line, name), (_cc, calls, own, _cumulative, _callers) in ranked:
        short = filename.replace(str(BASE_DIR) + "/", "").replace(site, "")
        rows.append(f"  {own / ops * 1e6:7.1f}  {calls / ops:8.1f}  {short}:{line}({name})")
    return "\n".join(rows)


def _cumulative(
    profile: cProfile.Profile, ops: int, matchers: dict[str, tuple[str, str]]
) -> dict[str, float]:
    """us/op of the cumulative time of functions matched by (file fragment, function name)."""
    stats = pstats.Stats(profile).stats
    found = {}
    for label, (file_part, func) in matchers.items():
        total = 0.0
        for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.items():
            if name == func and file_part in filename:
                total = max(total, ct)  # the outermost frame (recursion-safe enough here)
        found[label] = total / ops * 1e6
    return found


@contextlib.contextmanager
def statements_observed(after):
    """Call after(sql) as each statement returns, whether Django's cursor sent it or
    apps.core.hotpath (the wallet's fixed statements, which Django's wrappers never see)."""
    from django.db import connection

    from apps.core import hotpath

    originals = hotpath.fetchone, hotpath.execute

    def fetchone(sql, params):
        try:
            return originals[0](sql, params)
        finally:
            after(sql)

    def execute(sql, params):
        try:
            return originals[1](sql, params)
        finally:
            after(sql)

    def wrapper(execute_, sql, params, many, context):
        try:
            return execute_(sql, params, many, context)
        finally:
            after(sql)

    hotpath.fetchone, hotpath.execute = fetchone, execute
    try:
        with connection.execute_wrapper(wrapper):
            yield
    finally:
        hotpath.fetchone, hotpath.execute = originals


def analysis_service(wallet: dict, args) -> dict:
    """(b) against (a) serially in this process, a cProfile of (b), statements per operation."""
    from django.db import connection

    import apps.core.events as core_events

    report = {}
    tag = f"analysis-{uuid.uuid4().hex[:6]}"
    pairs = 300
    ledger_pieces = []

    def serial(worker, n):
        t0 = time.perf_counter()
        for _ in range(n):
            worker.pair()
        return (time.perf_counter() - t0) / (2 * n) * 1e6

    spec = {"index": 0, "wallet": wallet, "seed": 1}
    for binding in ("server", "client"):
        base = BaselineWorker(
            tag=f"{tag}-a{binding}", database_url=args.database_url, binding=binding, **spec
        )
        base.prepare()
        report[f"a_serial_us_{binding}_binding"] = serial(base, pairs)
        ledger_pieces.append(base.close())
    service = ServiceWorker(tag=f"{tag}-b", **spec)
    service.prepare()
    report["b_serial_us"] = serial(service, pairs)

    # How long each operation holds its wallet's row lock (from the UPDATE's answer to the
    # COMMIT's): on a hot wallet, operations queue for exactly this long each.
    base = BaselineWorker(tag=f"{tag}-hold", database_url=args.database_url, binding="server", **spec)
    base.prepare()
    base.lock_holds = []
    serial(base, pairs)
    report["a_lock_hold_us"] = _median(base.lock_holds) * 1e6
    ledger_pieces.append(base.close())
    holds: list[float] = []
    state: dict = {}

    def note_update(sql):
        if sql.startswith(("UPDATE wallet_wallet", "WITH u AS (UPDATE wallet_wallet")):
            state["locked_at"] = time.perf_counter()

    django_commit = connection._commit

    def timed_commit():
        django_commit()
        if "locked_at" in state:
            holds.append(time.perf_counter() - state.pop("locked_at"))

    connection._commit = timed_commit
    try:
        with statements_observed(note_update):
            serial(service, pairs)
    finally:
        del connection._commit
    report["b_lock_hold_us"] = _median(holds) * 1e6

    # What-if: the same service with Django's own default, client-side binding and no
    # prepared statements (pam turns both on: DATABASE_SERVER_SIDE_BINDING).
    from django.db.backends.postgresql.base import Cursor

    connection.ensure_connection()
    raw = connection.connection
    saved = raw.cursor_factory, raw.prepare_threshold
    raw.cursor_factory, raw.prepare_threshold = Cursor, None
    try:
        report["b_serial_us_client_binding"] = serial(service, pairs)
    finally:
        raw.cursor_factory, raw.prepare_threshold = saved

    # The after-commit dispatch (a broker publish) in and out of the operation.
    original = core_events._dispatch_after_commit
    core_events._dispatch_after_commit = lambda event_id, traceparent="": None
    try:
        report["b_serial_us_without_dispatch"] = serial(service, pairs)
    finally:
        core_events._dispatch_after_commit = original
    from apps.core.tasks import event_dispatch_task

    t0 = time.perf_counter()
    for _ in range(300):
        event_dispatch_task.delay(0)  # event 0 does not exist: a worker would log and drop it
    report["dispatch_publish_us"] = (time.perf_counter() - t0) / 300 * 1e6

    # Statements per operation, as Django sends them.
    statements: list[str] = []

    def record(sql):
        statements.append(" ".join(sql.split())[:110])

    with statements_observed(record):
        service.pair()
    report["b_statements_per_pair"] = statements

    profile = cProfile.Profile()
    profile.enable()
    serial(service, pairs)
    profile.disable()
    report["b_profile_top"] = _profile_top(profile, 2 * pairs)
    report["b_profile_cumulative_us"] = _cumulative(
        profile,
        2 * pairs,
        {
            "whole operation (_post)": ("apps/wallet/services.py", "_post"),
            "psycopg execute (round trip + binding)": ("psycopg/cursor.py", "execute"),
            "commit (atomic __exit__)": ("django/db/transaction.py", "__exit__"),
            "after-commit hand-off to the relay": (
                "apps/core/events.py",
                "_dispatch_after_commit",
            ),
            "_claim": ("apps/wallet/services.py", "_claim"),
            "move + entries + event, one statement": ("apps/wallet/services.py", "_move_record_publish"),
            "_fingerprint": ("apps/wallet/services.py", "_fingerprint"),
            "win precheck (bet FOR SHARE + rolled-back check)": (
                "apps/wallet/services.py",
                "bet_still_standing",
            ),
        },
    )
    ledger_pieces.append(service.close())
    report["_ledger"] = ledger_pieces
    return report


def analysis_explain(wallet: dict, args) -> str:
    """EXPLAIN ANALYZE of the statements that hold the wallet's row lock, rolled back."""
    import psycopg

    sql = baseline_statements()
    out = []
    with psycopg.connect(libpq_conninfo(args.database_url)) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id FROM wallet_ledgertransaction WHERE wallet_id = %s LIMIT 1", (wallet["id"],)
            )
            txn_id = cur.fetchone()[0]
            cur.execute(
                f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql['bet_post']}",
                {
                    "wallet": wallet["id"],
                    "a": 1,
                    "txn": txn_id,
                    "brand": wallet["brand_id"],
                    "currency": CURRENCY,
                    "house_kind": "games",
                    "ev_type": "wallet.bet_placed",
                    "ev_player": wallet["player_id"],
                    "ev_payload": "{}",
                    "ev_at": datetime.now(UTC),
                    "ev_cid": "explain",
                    "ev_actor": "provider:bench",
                },
            )
            out.append(
                "bet: UPDATE + entries + event, one statement:\n"
                + "\n".join("    " + r[0] for r in cur.fetchall())
            )
        conn.rollback()
    return "\n".join(out)


def analysis_rsa() -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = json.dumps(
        {"user": "x", "status": "RS_OK", "request_uuid": str(uuid.uuid4()), "balance": 1}
    ).encode()
    rsa_sign(private, body)
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        signature = rsa_sign(private, body)
    sign_us = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for _ in range(n):
        rsa_verify(public, body, signature)
    verify_us = (time.perf_counter() - t0) / n * 1e6
    return {"rsa2048_sign_us": sign_us, "rsa2048_verify_us": verify_us}


# --- output ----------------------------------------------------------------------------


def baseline_row_for(rows: list[dict], row: dict) -> dict | None:
    """The (a) row a row is compared with: same concurrency and wallets, same executor if any."""
    candidates = [
        r
        for r in rows
        if r["mode"] == "a" and r["workers"] == row["workers"] and r["wallets"] == row["wallets"]
    ]
    if row["mode"] == "c":  # HTTP against the best the database did, however it was driven
        return max(candidates, key=lambda r: r["ops_per_s"], default=None)
    same = [r for r in candidates if r["label"].endswith("/" + row["label"].split("/")[1])]
    return (same or candidates or [None])[0]


def _median(values):
    values = sorted(values)
    if not values:
        return float("nan")
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def rows_combine(runs: list[dict]) -> list[dict]:
    """One row per cell: the median over repeats of ops/s, p50, p99 and CPU per op."""
    cells: dict[tuple, list[dict]] = {}
    for run in runs:
        cells.setdefault((run["label"], run["workers"], run["wallets"]), []).append(run)
    rows = []
    for (label, workers, wallets), group in cells.items():
        cpu_per_op = {}
        for key in ("workers", "server", "postgres", "machine_busy"):
            values = [r["cpu_s"][key] / r["ops"] * 1e6 for r in group if key in r["cpu_s"] and r["ops"]]
            if values:
                cpu_per_op[key] = _median(values)
        others = []
        for r in group:
            known = sum(r["cpu_s"].get(k, 0.0) for k in ("workers", "server", "postgres"))
            others.append((r["cpu_s"]["machine_busy"] - known) / r["seconds"] if r["seconds"] else 0.0)
        ops = [r["ops_per_s"] for r in group]
        rows.append(
            {
                "mode": group[0]["mode"],
                "label": label,
                "workers": workers,
                "wallets": wallets,
                "repeats": len(group),
                "ops": sum(r["ops"] for r in group),
                "failed": sum(r["failed"] for r in group),
                "ops_per_s": _median(ops),
                "ops_per_s_min": min(ops),
                "ops_per_s_max": max(ops),
                "p50_ms": _median([r["p50_ms"] for r in group]),
                "p99_ms": _median([r["p99_ms"] for r in group]),
                "cpu_us_per_op": cpu_per_op,
                # CPU of everything else on the machine (other people's work), in cores.
                "other_cores": _median(others),
            }
        )
    for row in rows:
        base = baseline_row_for(rows, row)
        row["ratio_ops"] = (
            row["ops_per_s"] / base["ops_per_s"] if base and base["ops_per_s"] else float("nan")
        )
        row["ratio_p99"] = row["p99_ms"] / base["p99_ms"] if base and base["p99_ms"] else float("nan")
    order = {"a": 0, "b": 1, "c": 2}
    rows.sort(key=lambda r: (r["workers"], r["wallets"] != "distinct", order[r["mode"]], r["label"]))
    return rows


def table(rows: list[dict]) -> str:
    nan = float("nan")
    head = (
        f"{'mode':<12} {'workers':>7} {'wallets':<8} {'ops/s':>7} {'(min-max)':>11}"
        f" {'p50 ms':>7} {'p99 ms':>7}"
        f" {'ops/(a)':>7} {'p99/(a)':>7} {'fail':>4} | cpu us/op: {'client':>6} {'server':>6} {'pg':>5}"
        f" {'all':>5} | other"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        cpu = row["cpu_us_per_op"]
        spread = f"{row['ops_per_s_min']:.0f}-{row['ops_per_s_max']:.0f}" if row["repeats"] > 1 else ""
        lines.append(
            f"{row['label']:<12} {row['workers']:>7} {row['wallets']:<8}"
            f" {row['ops_per_s']:>7.0f} {spread:>11}"
            f" {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['ratio_ops']:>7.2f} {row['ratio_p99']:>7.2f}"
            f" {row['failed']:>4} |            {cpu.get('workers', nan):>6.0f} {cpu.get('server', nan):>6.0f}"
            f" {cpu.get('postgres', nan):>5.0f} {cpu.get('machine_busy', nan):>5.0f}"
            f" | {row['other_cores']:.2f}"
        )
    lines.append(
        "ops = bets + wins; ops/(a), p99/(a): against (a) at the same workers and wallets (run the same"
        " way for (b); the faster of a/process and a/thread for (c)). cpu us/op: CPU time per op of the"
        " load generator (for a and b: the workers themselves), the server's processes, PostgreSQL (this"
        " database's backends and its own processes; backends that exit mid-cell, as with uvicorn's"
        " connection per request, are missed) and the whole machine. other: cores kept busy by anything"
        " else meanwhile (noise: the row is only as good as this is small)."
    )
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[str]:
    verdicts = []
    for row in rows:
        if row["mode"] == "b":
            ok = row["ratio_ops"] >= 0.8 and row["ratio_p99"] <= 1.5
            verdicts.append(
                f"{'MET ' if ok else 'MISS'} (b) {row['label']:<10} {row['workers']:>2} {row['wallets']:<8}"
                f" ops {row['ratio_ops']:.2f}x (>= 0.8), p99 {row['ratio_p99']:.2f}x (<= 1.5)"
            )
        if row["mode"] == "c" and row["workers"] == 32:
            ok = row["ratio_ops"] >= 0.4 and row["p99_ms"] < 100
            verdicts.append(
                f"{'MET ' if ok else 'MISS'} (c) {row['label']:<10} {row['workers']:>2} {row['wallets']:<8}"
                f" ops {row['ratio_ops']:.2f}x (>= 0.4), p99 {row['p99_ms']:.1f} ms (< 100)"
            )
    return verdicts


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in (
        "django",
        "psycopg",
        "psycopg-binary",
        "celery",
        "kombu",
        "redis",
        "cryptography",
        "uvicorn",
        "uvloop",
        "httptools",
        "gunicorn",
        "daphne",
    ):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def broker_cleanup(url: str) -> int:
    """Delete what the run published (nothing consumes it); returns the messages it held."""
    import redis

    client = redis.Redis.from_url(url)
    left = client.llen("celery")
    client.delete("celery")
    for key in client.scan_iter("_kombu.binding*"):
        client.delete(key)
    return left


# --- main ------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    environment_set(args)
    django_setup()
    max_n = max(args.worker_counts)
    executors = ["process", "thread"] if args.executor == "both" else [args.executor]
    # Forked before this process opens any connection, so nothing is shared by accident.
    slots = {}
    if "process" in executors or "c" in args.mode_set:
        slots["process"] = ProcessSlots(max_n)
    if "thread" in executors:
        slots["thread"] = ThreadSlots(max_n)
    servers: list[Server] = []
    started = time.time()
    results: dict = {"args": {k: v for k, v in vars(args).items() if k != "mode_set"}, "versions": versions()}
    try:
        return _main(args, executors, slots, servers, results, started)
    finally:
        for server in servers:
            server.stop()
        for pool in slots.values():
            pool.shutdown()
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                database_drop(args.database_url)


def _main(args, executors, slots, servers, results, started) -> int:
    from django.core.management import call_command

    max_n = max(args.worker_counts)
    load = os.getloadavg()
    print(
        f"wallet benchmark on {os.cpu_count()} cores; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()))
    print(f"database {args.database_url} (made anew); Celery eager OFF, broker {args.broker_url}")
    database_recreate(args.database_url)
    call_command("migrate", verbosity=0, interactive=False)
    wallets = fixtures_create(max_n + 1)  # max_n distinct wallets + the hot one (last)
    print(
        f"{len(wallets)} players registered, each with a {CURRENCY} wallet funded with {FUNDING}"
        " (deposit_credit)."
        f" Each worker alternates a bet of {BET_AMOUNT} and a win of 1..{2 * BET_AMOUNT - 1} (minor units)"
        f" settling it; an op is one bet or one win; {args.duration:g} s per cell after {WARMUP_PAIRS}"
        f" warm-up pairs; {args.repeat} repeat(s), median shown; (a) and (b) workers are"
        f" {' and '.join(e + 'es' if e == 'process' else e + 's' for e in executors)}"
    )
    binding = (
        "server-side binding, statements auto-prepared after 5 uses (psycopg's defaults)"
        if args.baseline_binding == "server"
        else "client-side binding, no prepared statements (as Django)"
    )
    print(
        "(a) = raw psycopg, no Django, no broker publish; per bet: BEGIN; INSERT wallet_ledgertransaction"  # noqa: S608 - prose
        " ... ON CONFLICT (source, external_id) DO NOTHING RETURNING id; then ONE statement that moves,"
        " records and announces [movements.post_sql(debit_playable)]: WITH u AS (UPDATE wallet_wallet"
        " SET ... FROM (SELECT ... FOR UPDATE) o WHERE ... AND (o.cash + o.bonus >= amount) RETURNING"
        " old, new), INSERT wallet_ledgerentry (the bucket changes and the house's opposite), INSERT"
        " core_event (payload || new balances); COMMIT. Per win the same with credit_cash, plus SELECT"
        " the bet FOR SHARE and SELECT EXISTS (... WHERE reverses_id = the bet)"
        f" (as win_settle). {binding}."
    )
    hub = None
    if "c" in args.mode_set:
        if hub88_available():
            hub = hub88_setup(wallets)
        else:
            print("(c) SKIPPED: apps/games/providers/hub88/views.py does not exist yet")
    server_kinds = []
    if hub is not None:
        for kind in args.server_list:
            reason = server_available(kind)
            if reason:
                print(f"(c) server {kind} SKIPPED: {reason}")
            else:
                server_kinds.append(kind)
        print(
            "(c) = POST /integrations/hub88/transaction/bet and /win, RSA-signed both ways (requests signed"
            " before the clock starts; every 50th answer's signature verified), one keep-alive connection per"
            f" worker process; servers, each started for its cell only: {', '.join(server_kinds) or 'none'}"
        )
    print(flush=True)
    database = args.database_url.rpartition("/")[2]

    def postgres():
        return _postgres_pids(database)

    ledger = Ledger()
    runs: list[dict] = []
    described: set[str] = set()
    for repeat in range(args.repeat):
        for n in args.worker_counts:
            for layout in ("distinct", "hot"):
                for mode in ("a", "b"):
                    if mode not in args.mode_set:
                        continue
                    for executor in executors:
                        pool = slots[executor]
                        run = run_cell(
                            mode=mode,
                            label=f"{mode}/{executor}",
                            slots=pool,
                            n=n,
                            layout=layout,
                            wallets=wallets,
                            args=args,
                            ledger=ledger,
                            cpu_groups={"workers": pool.pids, "postgres": postgres},
                        )
                        runs.append(run)
                        print(_progress(run, repeat), flush=True)
                for kind in server_kinds:
                    # Requests are signed beforehand: enough for twice the rate of (b) (or that of (a)).
                    same = [r for r in runs if r["workers"] == n and r["wallets"] == layout]
                    rate = 2 * max((r["ops_per_s"] for r in same if r["mode"] == "b"), default=0.0) or max(
                        (r["ops_per_s"] for r in same), default=3000.0
                    )
                    pairs = int(min(20000, max(100, rate * args.duration / 2 / n)))
                    server = Server(
                        kind, workers=args.server_workers, threads=args.server_threads, port=args.port
                    )
                    servers.append(server)
                    if kind not in described:
                        described.add(kind)
                        print(f"  (c/{kind}: {server.describe})")
                    try:
                        run = run_cell(
                            mode="c",
                            label=f"c/{kind}",
                            slots=slots["process"],
                            n=n,
                            layout=layout,
                            wallets=wallets,
                            args=args,
                            ledger=ledger,
                            spec_extra=lambda i, port=server.port, pairs=pairs: {
                                "port": port,
                                "hub": hub,
                                "pairs": pairs,
                            },
                            cpu_groups={
                                "workers": slots["process"].pids,
                                "server": server.pids,
                                "postgres": postgres,
                            },
                        )
                    finally:
                        server.stop()
                        servers.remove(server)
                    runs.append(run)
                    print(_progress(run, repeat), flush=True)
    rows = rows_combine(runs)
    results["runs"], results["rows"] = runs, rows
    print()
    print(table(rows))
    print()
    verdicts = targets(rows)
    results["targets"] = verdicts
    for line in verdicts:
        print(line)
    if args.analysis:
        print()
        results["analysis"] = analysis_run(wallets, args, ledger, hub)
    problems, counts = balances_check(wallets, ledger)
    results["balance_check"] = {"problems": problems, **counts}
    print()
    if problems:
        print(f"BALANCE CHECK FAILED ({len(problems)} problems):")
        for problem in problems[:20]:
            print("  " + problem)
    else:
        print(
            f"balance check OK: each of {counts['wallets']} wallets == funding - bets + wins its workers saw"
            f" succeed, == the sum of its ledger entries; {counts['transactions']} bet/win transactions"
            f" (= the operations that succeeded, warm-ups included), each summing to zero;"
            f" {counts['events']} events, one per transaction"
        )
    left = broker_cleanup(args.broker_url)
    print(f"broker: {left} after-commit dispatch messages were published (no consumer ran); deleted")
    print(f"done in {time.time() - started:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    return 1 if problems else 0


def _progress(row: dict, repeat: int) -> str:
    return (
        f"  #{repeat + 1} {row['label']:<14} {row['workers']:>2} {row['wallets']:<8}"
        f" {row['ops_per_s']:8.0f} ops/s"
        f"  p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:7.2f} ms  failed {row['failed']}"
        + (f"  e.g. {row['errors'][0]}" if row["errors"] else "")
    )


def analysis_run(wallets: list[dict], args, ledger: Ledger, hub: dict | None) -> dict:
    print("where the time goes")
    print("===================")
    out = {}
    service = analysis_service(wallets[0], args)
    for piece in service.pop("_ledger"):
        ledger.add(piece)
    out["service"] = service
    a_srv, a_cli, b = (
        service["a_serial_us_server_binding"],
        service["a_serial_us_client_binding"],
        service["b_serial_us"],
    )
    print(
        f"serial, one connection, distinct wallet (us per op): (a) {a_srv:.0f} (server binding, prepared),"
        f" (a) {a_cli:.0f} (client binding, Django's default), (b) {b:.0f},"
        f" (b) without the after-commit dispatch {service['b_serial_us_without_dispatch']:.0f},"
        f" (b) with client-side binding, unprepared {service['b_serial_us_client_binding']:.0f};"
        f" one Celery publish to Redis: {service['dispatch_publish_us']:.0f} us"
    )
    print(
        f"wallet row lock held per op (UPDATE answered -> COMMIT answered), median: (a)"
        f" {service['a_lock_hold_us']:.0f} us, (b) {service['b_lock_hold_us']:.0f} us: one hot wallet"
        f" cannot take more than about {1e6 / service['a_lock_hold_us']:.0f}"
        f" resp. {1e6 / service['b_lock_hold_us']:.0f} ops/s"
    )
    print(f"(b) sends {len(service['b_statements_per_pair'])} statements per bet+win (+ BEGIN/COMMIT each):")
    for statement in service["b_statements_per_pair"]:
        print("    " + statement)
    print("(b) cProfile, cumulative us per op:")
    for label, value in service["b_profile_cumulative_us"].items():
        print(f"    {value:8.1f}  {label}")
    print("(b) cProfile, top own time per op (profiler overhead inflates small calls):")
    print(service["b_profile_top"])
    explain = analysis_explain(wallets[-1], args)
    out["explain"] = explain
    print("EXPLAIN ANALYZE (hot wallet, rolled back):")
    print("  " + explain.replace("\n", "\n  "))
    rsa_costs = analysis_rsa()
    out["rsa"] = rsa_costs
    print(
        f"RSA-2048 PKCS#1 v1.5 SHA-256 (cryptography): sign {rsa_costs['rsa2048_sign_us']:.0f} us,"
        f" verify {rsa_costs['rsa2048_verify_us']:.0f} us"
    )
    if hub is not None:
        report = analysis_hub88(wallets[0], hub, args)
        for piece in report.pop("_ledger"):
            ledger.add(piece)
        out["hub88"] = report
        print(
            "(c) in-process through Django's WSGI handler, serial (us per op):"
            f" {report['c_inprocess_serial_us']:.0f},"
            f" without the after-commit dispatch {report['c_inprocess_serial_us_without_dispatch']:.0f}"
        )
        print(
            f"(c) sends {len(report['c_statements_per_pair'])} statements per bet+win (+ BEGIN/COMMIT each):"
        )
        for statement in report["c_statements_per_pair"]:
            print("    " + statement)
        print("(c) cProfile, cumulative us per op:")
        for label, value in report["c_profile_cumulative_us"].items():
            print(f"    {value:8.1f}  {label}")
        print("(c) cProfile, top own time per op:")
        print(report["c_profile_top"])
    return out


def analysis_hub88(wallet: dict, hub: dict, args) -> dict:
    """The Hub88 view in-process through Django's WSGI handler (middleware included), serially.

    No server, no socket: what one bet or win costs inside Django, and a cProfile of it.
    """
    from django.core.handlers.wsgi import WSGIHandler

    import apps.core.events as core_events

    handler = WSGIHandler()
    pairs = 200
    worker = HubWorker(
        port=0,
        hub=hub,
        pairs=4 * pairs,
        index=0,
        tag=f"analysis-{uuid.uuid4().hex[:6]}",
        wallet=wallet,
        seed=2,
    )

    def call(request) -> None:
        path, raw, signature = request
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(raw)),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_X_HUB88_SIGNATURE": signature,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(raw),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        status = []
        body = b"".join(handler(environ, lambda s, h, exc_info=None: status.append(s)))
        if not status[0].startswith("200") or b'"RS_OK"' not in body:
            raise RuntimeError(f"{status[0]}: {body[:200]!r}")

    def serial(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            bet, win, amount = worker.prepared.pop()
            call(bet)
            worker.bets += BET_AMOUNT
            call(win)
            worker.wins += amount
            worker.succeeded += 2
        return (time.perf_counter() - t0) / (2 * n) * 1e6

    for _ in range(WARMUP_PAIRS):
        serial(1)
    report = {"c_inprocess_serial_us": serial(pairs)}
    original = core_events._dispatch_after_commit
    core_events._dispatch_after_commit = lambda event_id, traceparent="": None
    try:
        report["c_inprocess_serial_us_without_dispatch"] = serial(pairs)
    finally:
        core_events._dispatch_after_commit = original
    profile = cProfile.Profile()
    profile.enable()
    serial(pairs)
    profile.disable()
    report["c_profile_cumulative_us"] = _cumulative(
        profile,
        2 * pairs,
        {
            "whole request (WSGIHandler.__call__)": ("django/core/handlers/wsgi.py", "__call__"),
            "view (wallet_call)": ("hub88/views.py", "wallet_call"),
            "RSA sign of the answer (signing.sign)": ("hub88/signing.py", "sign"),
            "RSA verify of the request (signing.verify)": ("hub88/signing.py", "verify"),
            "session by token (game_session_by_token)": ("apps/games/services.py", "game_session_by_token"),
            "integration by brand": ("hub88/selectors.py", "hub88_integration_for_brand"),
            "game lookup (game_get)": ("apps/games/selectors.py", "game_get"),
            "wallet service (_post)": ("apps/wallet/services.py", "_post"),
            "after-commit hand-off to the relay": (
                "apps/core/events.py",
                "_dispatch_after_commit",
            ),
            "psycopg execute (round trip + binding)": ("psycopg/cursor.py", "execute"),
        },
    )
    report["c_profile_top"] = _profile_top(profile, 2 * pairs, limit=30)
    report["_ledger"] = [worker.close()]
    from django.db import connection

    statements: list[str] = []

    def record(sql):
        statements.append(" ".join(sql.split())[:110])

    worker2 = HubWorker(port=0, hub=hub, pairs=1, index=1, tag="analysis-sql", wallet=wallet, seed=3)
    bet, win, amount = worker2.prepared.pop()
    with statements_observed(record):
        call(bet)
        call(win)
    worker2.bets, worker2.wins, worker2.succeeded = BET_AMOUNT, amount, 2
    report["_ledger"].append(worker2.close())
    report["c_statements_per_pair"] = statements
    connection.close()
    return report


if __name__ == "__main__":
    sys.exit(main())
