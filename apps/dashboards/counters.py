"""Live operations counters per brand and minute, shared by every process.

Handlers add to them after their delivery commits (one pipeline of HINCRBYs per event);
the ticker (ticker.py) reads a brand's last `WINDOW_MINUTES` minutes and pushes them as one
snapshot. Nothing here pushes per event: a thousand bets a second make one message per
brand per second.

Storage (Redis when REDIS_URL is set, else this process's memory, for the embedded
default's single process):
- `pam:dash:c:<brand>:<minute>`: a hash of exact integers: `n:<metric>` counts and
  `a:<metric>:<currency>` amounts in minor units (metrics: dep, wd, bet, win, rcf);
  expires after two windows;
- `pam:dash:active:<brand>`: a sorted set player id -> last seen (epoch seconds); active
  players are those seen in the last `ACTIVE_MINUTES`;
- `pam:dash:dirty`: the brands changed since the last tick; a tick takes it atomically,
  so with several ASGI processes each change is pushed by one of them;
- `pam:dash:pushed:<brand>`: a short-lived key claimed before pushing a snapshot, so a
  brand gets at most about one snapshot a second whatever the number of processes.

GGR is bets less wins, both net of rollbacks (a rolled-back bet leaves the bets of the
minute the rollback happened, a rolled-back win leaves the wins), per currency.
"""

import threading
import time
from collections import defaultdict
from functools import lru_cache

import redis
from django.conf import settings

WINDOW_MINUTES = 30
ACTIVE_MINUTES = 15
METRICS = ("dep", "wd", "bet", "win", "rcf")
PREFIX = "pam:dash:"


def push_interval_ms() -> int:
    """A brand's snapshots are at least this far apart across processes: a little under one
    tick of the ticker (DASHBOARD_SNAPSHOT_SECONDS), so each tick may send one."""
    return int(settings.DASHBOARD_SNAPSHOT_SECONDS * 900)


def minute_of(epoch_seconds: float) -> int:
    return int(epoch_seconds // 60) * 60


def _shape(brand_id: int, rows: list[tuple[int, dict]], active: int) -> dict:
    minutes = []
    for minute, fields in rows:
        counts = dict.fromkeys(METRICS, 0)
        amounts: dict[str, dict[str, int]] = {}
        for key, value in fields.items():
            parts = key.split(":")
            if parts[0] == "n" and len(parts) == 2 and parts[1] in counts:
                counts[parts[1]] = int(value)
            elif parts[0] == "a" and len(parts) == 3:
                amounts.setdefault(parts[2], {"dep": 0, "wd": 0, "bet": 0, "win": 0})[parts[1]] = int(value)
        for per_currency in amounts.values():
            per_currency["ggr"] = per_currency["bet"] - per_currency["win"]
        minutes.append({"t": minute, "n": counts, "amounts": amounts})
    return {
        "brand_id": brand_id,
        "minutes": minutes,
        "active_players": active,
        "window_minutes": WINDOW_MINUTES,
        "active_minutes": ACTIVE_MINUTES,
    }


class RedisCounters:
    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url)

    def add(self, *, brand_id: int, at: float, fields: dict[str, int], player_id: int | None) -> None:
        key = f"{PREFIX}c:{brand_id}:{minute_of(at)}"
        pipe = self.redis.pipeline(transaction=False)
        for field, amount in fields.items():
            pipe.hincrby(key, field, amount)
        pipe.expire(key, WINDOW_MINUTES * 60 * 2)
        if player_id is not None:
            pipe.zadd(f"{PREFIX}active:{brand_id}", {str(player_id): at})
        pipe.sadd(f"{PREFIX}dirty", brand_id)
        pipe.execute()

    def dirty_take(self) -> set[int]:
        pipe = self.redis.pipeline(transaction=True)
        pipe.smembers(f"{PREFIX}dirty")
        pipe.delete(f"{PREFIX}dirty")
        members, _ = pipe.execute()
        return {int(m) for m in members}

    def dirty_mark(self, brand_ids) -> None:
        if brand_ids:
            self.redis.sadd(f"{PREFIX}dirty", *brand_ids)

    def push_claim(self, brand_id: int) -> bool:
        return bool(self.redis.set(f"{PREFIX}pushed:{brand_id}", 1, nx=True, px=push_interval_ms()))

    def snapshot(self, brand_id: int, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        last = minute_of(now)
        minutes = [last - 60 * i for i in range(WINDOW_MINUTES - 1, -1, -1)]
        active_key = f"{PREFIX}active:{brand_id}"
        pipe = self.redis.pipeline(transaction=False)
        for minute in minutes:
            pipe.hgetall(f"{PREFIX}c:{brand_id}:{minute}")
        pipe.zremrangebyscore(active_key, "-inf", now - ACTIVE_MINUTES * 60)
        pipe.zcard(active_key)
        result = pipe.execute()
        rows = [
            (m, {k.decode(): v.decode() for k, v in fields.items()})
            for m, fields in zip(minutes, result[: len(minutes)], strict=True)
        ]
        return _shape(brand_id, rows, int(result[-1]))


class MemoryCounters:
    """The same, in this process (the embedded default: one process serves and counts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minutes: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._active: dict[int, dict[int, float]] = defaultdict(dict)
        self._dirty: set[int] = set()
        self._pushed: dict[int, float] = {}

    def add(self, *, brand_id: int, at: float, fields: dict[str, int], player_id: int | None) -> None:
        with self._lock:
            bucket = self._minutes[(brand_id, minute_of(at))]
            for field, amount in fields.items():
                bucket[field] += amount
            if player_id is not None:
                self._active[brand_id][player_id] = at
            self._dirty.add(brand_id)
            oldest = minute_of(at) - WINDOW_MINUTES * 60 * 2
            for stale in [k for k in self._minutes if k[1] < oldest]:
                del self._minutes[stale]

    def dirty_take(self) -> set[int]:
        with self._lock:
            taken, self._dirty = self._dirty, set()
            return taken

    def dirty_mark(self, brand_ids) -> None:
        with self._lock:
            self._dirty.update(brand_ids)

    def push_claim(self, brand_id: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._pushed.get(brand_id, -1e9) < push_interval_ms() / 1000:
                return False
            self._pushed[brand_id] = now
            return True

    def snapshot(self, brand_id: int, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        last = minute_of(now)
        with self._lock:
            rows = [
                (m, dict(self._minutes.get((brand_id, m), {})))
                for m in (last - 60 * i for i in range(WINDOW_MINUTES - 1, -1, -1))
            ]
            seen = self._active[brand_id]
            for player in [p for p, t in seen.items() if t < now - ACTIVE_MINUTES * 60]:
                del seen[player]
            active = len(seen)
        return _shape(brand_id, rows, active)


@lru_cache(maxsize=4)
def _store_for(url: str):
    return RedisCounters(url) if url else MemoryCounters()


def store():
    """This process's counter store (by REDIS_URL: tests point each worker at its own db)."""
    return _store_for(settings.REDIS_URL or "")
