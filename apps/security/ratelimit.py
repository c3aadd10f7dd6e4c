"""Rate limits (issue 9): a leaky bucket per player, staff user, provider integration, and
client address on logins, with pyrate-limiter's GCRA (a leaky bucket kept as one timestamp).

With REDIS_URL the bucket lives in Redis (pyrate-limiter's RedisStateStore: one hash per key,
updated by an atomic Lua script in one round trip), so every web process draws from the same
bucket; without it (`make run`) in this process's memory.

Where it applies, and what a bucket is keyed by (never by anything a client can choose):
- the player API: the player the token authenticates (`ApiRateThrottle`, a DRF throttle, so
  it runs after authentication);
- the staff API and the admin: the signed-in staff user, one bucket for both
  (`ApiRateThrottle`, `AdminRateLimitMiddleware`);
- the player login (views with `throttle_scope = "login"`) and the admin login (POSTs):
  the client's address (`client_ip`: REMOTE_ADDR, X-Forwarded-For only behind one of
  TRUSTED_PROXIES);
- the provider doors: the integration, once the call has authenticated as it (Hub88's
  signature, PaymentIQ's credentials), so nobody can spend another caller's bucket; those
  doors answer in their protocol's own error form.

The pyrate-limiter `Limiter` is not used: its try_acquire blocks by default and, with
blocking=False, says only yes or no; the bucket's own put() + waiting() give the verdict and
the wait from the same single Redis call (the wait is recorded on the bucket), which becomes
Retry-After. A Redis failure lets the request through (logged): the limits protect the
service, they must not take it down with Redis.
"""

import logging
import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import redis
from cachetools import LRUCache
from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from pyrate_limiter import GCRA, InMemoryStateStore, Rate, RateItem, RedisStateStore, StateBucket
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

KEY_PREFIX = "pam:ratelimit:"
_ALGORITHM = GCRA()


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds, at least 1 when refused


ALLOWED = Verdict(allowed=True)


def bucket_hit(kind: str, ident) -> Verdict:
    """Take one unit from the `kind` bucket of `ident` (a player, staff user, integration or
    address); kind is a key of settings.RATE_LIMITS."""
    if not settings.RATE_LIMITS_ENABLED:
        return ALLOWED
    key = f"{KEY_PREFIX}{kind}:{ident}"
    bucket = StateBucket([_rate(settings.RATE_LIMITS[kind])], _ALGORITHM, _store(key))
    item = RateItem(key, bucket.now())
    try:
        if bucket.put(item):
            return ALLOWED
        wait_ms = bucket.waiting(item)  # recorded by put(): no second round trip
    except redis.RedisError as exc:
        logger.warning("rate limit %s not checked, Redis failed: %s", kind, exc)
        return ALLOWED
    return Verdict(allowed=False, retry_after=max(1, math.ceil(max(wait_ms, 0) / 1000)))


@lru_cache(maxsize=32)
def _rate(spec: tuple[int, float, int]) -> Rate:
    limit, per_seconds, burst = spec
    return Rate(limit, int(per_seconds * 1000), burst=burst)


_clients: dict[str, redis.Redis] = {}
_local_stores: LRUCache = LRUCache(maxsize=100_000)
_local_lock = threading.Lock()


def _store(key: str):
    url = settings.REDIS_URL
    if url:
        client = _clients.get(url)
        if client is None:
            # Short timeouts: a slow Redis must not hold requests (they pass, logged).
            client = _clients.setdefault(
                url, redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            )
        return RedisStateStore(client, key)
    with _local_lock:
        store = _local_stores.get(key)
        if store is None:
            store = _local_stores[key] = InMemoryStateStore()
        return store


def local_buckets_clear() -> None:
    """Forget this process's in-memory buckets (tests: a rolled-back row's id is reused)."""
    with _local_lock:
        _local_stores.clear()


def client_ip(request) -> str:
    """The client's address, as the IP lists resolved it (ipfilter: REMOTE_ADDR, or behind a
    trusted proxy the nearest X-Forwarded-For hop that is not one)."""
    from apps.security.ipfilter import client_ip as resolved

    address = resolved(request)
    return str(address) if address is not None else request.META.get("REMOTE_ADDR", "")


def refused_response(verdict: Verdict) -> JsonResponse:
    """429 in the API's error shape, with Retry-After."""
    # Imported here: it imports DRF's views, which import this module (DEFAULT_THROTTLE_CLASSES).
    from apps.core.api.exceptions import error_body

    response = JsonResponse(
        error_body(
            "rate_limited",
            f"Too many requests; retry in {verdict.retry_after} second"
            f"{'' if verdict.retry_after == 1 else 's'}.",
        ),
        status=429,
    )
    response["Retry-After"] = str(verdict.retry_after)
    return response


class ApiRateThrottle(BaseThrottle):
    """The player and staff APIs' limit (DEFAULT_THROTTLE_CLASSES). DRF checks throttles after
    authentication and permissions, so the caller is known; DRF's Throttled then answers 429
    in the API's error shape (code rate_limited) with Retry-After."""

    def allow_request(self, request, view) -> bool:
        self.verdict = ALLOWED
        user = request.user
        if getattr(view, "throttle_scope", None) == "login":
            self.verdict = bucket_hit("login", client_ip(request))
        elif getattr(user, "is_authenticated", False):
            from apps.players.models import Player

            kind = "player" if isinstance(user, Player) else "staff"
            self.verdict = bucket_hit(kind, user.pk)
        return self.verdict.allowed

    def wait(self) -> float | None:
        return self.verdict.retry_after if not self.verdict.allowed else None


class AdminRateLimitMiddleware:
    """The admin's limits: a staff user's bucket (shared with the staff API) and, for login
    attempts (POSTs to the login page), the client address's. Other paths are not touched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/"):
            verdict = ALLOWED
            if request.method == "POST" and request.path == reverse("admin:login"):
                verdict = bucket_hit("login", client_ip(request))
            elif request.user.is_authenticated:
                verdict = bucket_hit("staff", request.user.pk)
            if not verdict.allowed:
                return refused_response(verdict)
        return self.get_response(request)
