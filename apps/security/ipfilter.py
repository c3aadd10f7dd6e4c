"""The IP lists, compiled: which address a request comes from, and whether it may pass.

Rules live in the database (models.IpRule). Each process keeps them compiled (ipaddress
networks per scope) and checks, at most every IP_RULES_VERSION_CHECK_SECONDS, a version
key in the Django cache (Redis when configured) that every change replaces; a new version
means reading the rules again. So the steady state costs no database query per request,
one cache read a second per process, and a change reaches every process within about a
second. The rules are also re-read after IP_RULES_MAX_AGE_SECONDS whatever the version
says (a flushed cache, a change written around the service).

Expiry is checked per request against each entry's expires_at, so an entry stops applying
at its time without any reload.
"""

import ipaddress
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone

logger = logging.getLogger(__name__)

VERSION_KEY = "security:ip-rules:version"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The provider doors, by URL prefix (pam/urls.py; tests check they still match).
INTEGRATION_PREFIXES = {
    "/integrations/hub88/": "hub88",
    "/integrations/paymentiq/": "paymentiq",
}
# Integrations that check a per-brand allowlist of their own after authentication
# (PaymentIQIntegration.ip_allowlist, failing closed when empty): with no allow entries
# here, the middleware leaves the decision to them.
INTEGRATIONS_WITH_OWN_ALLOWLIST = frozenset({"paymentiq"})


class InvalidNetwork(ValueError):
    pass


def network_parse(text: str) -> IPNetwork:
    """An IPv4 or IPv6 address or CIDR network; host bits are dropped ("10.1.2.3/8" is
    10.0.0.0/8). InvalidNetwork with a message naming the entry otherwise."""
    value = (text or "").strip()
    if not value:
        raise InvalidNetwork("Enter an IP address or network, e.g. 203.0.113.0/24.")
    if len(value) > 49 or "%" in value:
        raise InvalidNetwork(f"{value!r} is not an IPv4 or IPv6 address or network.")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise InvalidNetwork(f"{value!r} is not an IPv4 or IPv6 address or network ({exc}).") from exc
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        # ::ffff:10.0.0.0/104 is written as the IPv4 network it means (addresses are unmapped too).
        mapped = network.network_address.ipv4_mapped
        network = ipaddress.ip_network(f"{mapped}/{max(network.prefixlen - 96, 0)}", strict=False)
    return network


def cidr_normalise(text: str) -> str:
    """The canonical text of a network: always with its prefix ("203.0.113.7" -> "203.0.113.7/32")."""
    return network_parse(text).with_prefixlen


def address_parse(text: str | None) -> IPAddress | None:
    value = (text or "").strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]" or "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(network_parse(e) for e in entries if e.strip())


def trusted_proxies() -> tuple[IPNetwork, ...]:
    return _trusted_networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _in_any(address: IPAddress, networks) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_ip_resolve(meta) -> IPAddress | None:
    """The client's address: REMOTE_ADDR, unless REMOTE_ADDR is a trusted proxy; then the
    right-most X-Forwarded-For hop that is not a trusted proxy (hops to its left were
    written by the client and prove nothing). None when REMOTE_ADDR is not an address."""
    remote = address_parse(meta.get("REMOTE_ADDR"))
    proxies = trusted_proxies()
    if remote is None or not proxies or not _in_any(remote, proxies):
        return remote
    hops = [h for h in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    nearest = remote
    for hop in reversed(hops):
        address = address_parse(hop)
        if address is None:
            # Written by a trusted proxy, so its fault: the last address it vouched for.
            return nearest
        if not _in_any(address, proxies):
            return address
        nearest = address
    return nearest


class NetworkIndex:
    """Networks by prefix length: a lookup is one dict probe per distinct prefix length
    (at most 33 for IPv4, 129 for IPv6), whatever the number of entries (a linear scan
    measured 2 ms per request with 1,000 entries)."""

    def __init__(self) -> None:
        # (version, prefixlen) -> {network address as int: [expires_at or None, ...]}
        self._by_prefix: dict[tuple[int, int], dict[int, list[datetime | None]]] = {}

    def add(self, network: IPNetwork, expires_at: datetime | None) -> None:
        bucket = self._by_prefix.setdefault((network.version, network.prefixlen), {})
        bucket.setdefault(int(network.network_address), []).append(expires_at)

    def __bool__(self) -> bool:
        return bool(self._by_prefix)

    def in_force(self, now: datetime) -> bool:
        return any(
            e is None or e > now
            for bucket in self._by_prefix.values()
            for ends in bucket.values()
            for e in ends
        )

    def contains(self, address: IPAddress, now: datetime) -> bool:
        value, bits = int(address), address.max_prefixlen
        for (version, prefixlen), bucket in self._by_prefix.items():
            if version != address.version:
                continue
            masked = value >> (bits - prefixlen) << (bits - prefixlen) if prefixlen else 0
            ends = bucket.get(masked)
            if ends and any(e is None or e > now for e in ends):
                return True
        return False


@dataclass
class RuleSet:
    global_block: NetworkIndex = field(default_factory=NetworkIndex)
    brand_block: dict[int, NetworkIndex] = field(default_factory=dict)
    integration_allow: dict[str, NetworkIndex] = field(default_factory=dict)
    integration_block: dict[str, NetworkIndex] = field(default_factory=dict)
    # The database could not be read and this process had no rules yet.
    unavailable: bool = False

    def globally_blocked(self, address: IPAddress, now: datetime) -> bool:
        return self.global_block.contains(address, now)

    def brand_blocked(self, brand_id: int, address: IPAddress, now: datetime) -> bool:
        index = self.brand_block.get(brand_id)
        return bool(index) and index.contains(address, now)

    def integration_allowed(self, integration: str, address: IPAddress, now: datetime) -> bool | None:
        """True or False when the integration has allow entries in force; None when it has none."""
        blocked = self.integration_block.get(integration)
        if blocked and blocked.contains(address, now):
            return False
        allow = self.integration_allow.get(integration)
        if not allow or not allow.in_force(now):
            return None
        return allow.contains(address, now)


def ruleset_compile() -> RuleSet:
    """Read the rules in force from the database (one query)."""
    from apps.security.models import IpRule

    rules = RuleSet()
    now = timezone.now()
    rows = IpRule.objects.exclude(expires_at__lte=now).values_list(
        "cidr", "kind", "scope", "brand_id", "expires_at"
    )
    for cidr, kind, scope, brand_id, expires_at in rows:
        try:
            network = network_parse(cidr)
        except InvalidNetwork:
            logger.error("ip rules: stored entry %r is not a network; ignored", cidr)
            continue
        if scope == IpRule.Scope.GLOBAL and kind == IpRule.Kind.BLOCK:
            rules.global_block.add(network, expires_at)
        elif scope == IpRule.Scope.BRAND and kind == IpRule.Kind.BLOCK and brand_id:
            rules.brand_block.setdefault(brand_id, NetworkIndex()).add(network, expires_at)
        elif scope not in (IpRule.Scope.GLOBAL, IpRule.Scope.BRAND):
            target = rules.integration_allow if kind == IpRule.Kind.ALLOW else rules.integration_block
            target.setdefault(scope, NetworkIndex()).add(network, expires_at)
    return rules


class _Cached:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: RuleSet | None = None
        self.version: str | None = None
        self.loaded_at = 0.0
        self.checked_at = 0.0


_state = _Cached()


def _version_read() -> str | None:
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            version = uuid.uuid4().hex
            if not cache.add(VERSION_KEY, version, timeout=None):
                version = cache.get(VERSION_KEY)
        return version
    except Exception:  # noqa: BLE001 - a cache outage must not take every request down
        logger.warning("ip rules: the version key cannot be read; keeping the rules this process has")
        return None


def ruleset_current() -> RuleSet:
    """The compiled rules, re-read when the version key changed (checked at most once per
    IP_RULES_VERSION_CHECK_SECONDS) or IP_RULES_MAX_AGE_SECONDS passed."""
    now = time.monotonic()
    state = _state
    rules = state.rules
    if rules is not None and now - state.checked_at < settings.IP_RULES_VERSION_CHECK_SECONDS:
        return rules
    with state.lock:
        if state.rules is not None and now - state.checked_at < settings.IP_RULES_VERSION_CHECK_SECONDS:
            return state.rules
        version = _version_read()
        stale = now - state.loaded_at >= settings.IP_RULES_MAX_AGE_SECONDS
        if state.rules is None or stale or (version is not None and version != state.version):
            try:
                state.rules = ruleset_compile()
            except DatabaseError:
                # Keep what this process has (or nothing, marked unavailable: provider doors
                # then fail closed) and try again at the next check, not on every request.
                logger.exception("ip rules: cannot be read; keeping the rules this process has")
                if state.rules is None:
                    state.rules = RuleSet(unavailable=True)
                state.checked_at = now
                return state.rules
            state.version = version
            state.loaded_at = now
        state.checked_at = now
        return state.rules


def ruleset_changed() -> None:
    """A rule changed: this process drops its copy, and a new version key tells the others."""
    with _state.lock:
        _state.rules = None
        _state.version = None
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - the others then pick it up after IP_RULES_MAX_AGE_SECONDS
        logger.error("ip rules: the version key cannot be written; other processes see the change late")


def local_cache_clear() -> None:
    """Forget this process's copy (tests: rolled-back rows must not be served to the next test)."""
    with _state.lock:
        _state.rules = None
        _state.version = None
        _state.loaded_at = 0.0
        _state.checked_at = 0.0


# Liveness and readiness are asked by the orchestrator, and must not depend on the database
# (a database outage must not get every web process restarted): never filtered.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})


def integration_of_path(path: str) -> str | None:
    for prefix, integration in INTEGRATION_PREFIXES.items():
        if path.startswith(prefix):
            return integration
    return None


def client_ip(request) -> IPAddress | None:
    """The address the middleware resolved for this request (resolved here if it did not run)."""
    if not hasattr(request, "client_ip"):
        request.client_ip = client_ip_resolve(request.META)
    return request.client_ip


def brand_blocked(request, brand_id: int) -> bool:
    """Is the request's address on brand `brand_id`'s blocklist?"""
    address = client_ip(request)
    if address is None:
        return False
    return ruleset_current().brand_blocked(brand_id, address, timezone.now())
