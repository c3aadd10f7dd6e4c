"""Who is calling: HTTP Basic or Bearer credentials name the integration (and so the brand);
its IP allowlist says whether it may call from there.

Secrets are compared only against what is stored: a Django password hash (check_password,
constant time) or a token's SHA-256 (looked up by its digest: the token has 256 bits of
entropy, so the digest leaks nothing usable and needs no salt). A failed check costs the
same password hashing whether or not the username exists.

A verified password is remembered per process for a minute (keyed by the integration, its
stored hash and an HMAC of the password), so PaymentIQ's call rate does not pay for
PBKDF2 on every call; changing the password changes the hash and so misses the cache.
"""

import base64
import binascii
import hashlib
import hmac
import ipaddress
import threading
from dataclasses import dataclass
from functools import lru_cache

from cachetools import TTLCache
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password

from apps.payments.providers.paymentiq.models import PaymentIQIntegration
from apps.payments.providers.paymentiq.protocol import ErrCode
from apps.payments.providers.paymentiq.selectors import integration_by_token_sha256, integration_by_username

MAX_HEADER_LENGTH = 1024
VERIFIED_TTL_SECONDS = 60
_verified: TTLCache = TTLCache(maxsize=256, ttl=VERIFIED_TTL_SECONDS)
_verified_lock = threading.Lock()


@dataclass
class AuthFailed(Exception):  # noqa: N818 - answered, not crashed
    http_status: int
    err_code: str
    err_msg: str


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return make_password("paymentiq-no-such-user")


def _password_matches(integration: PaymentIQIntegration, password: str) -> bool:
    stored = integration.basic_password_hash
    if not stored:
        check_password(password, _dummy_hash())
        return False
    tag = hmac.new(settings.SECRET_KEY.encode(), password.encode(), hashlib.sha256).hexdigest()
    key = (integration.pk, stored, tag)
    with _verified_lock:
        if _verified.get(key):
            return True
    if not check_password(password, stored):
        return False
    with _verified_lock:
        _verified[key] = True
    return True


def verified_cache_clear() -> None:
    with _verified_lock:
        _verified.clear()


def _unauthorized(message: str) -> AuthFailed:
    return AuthFailed(401, ErrCode.UNAUTHORIZED, message)


def integration_authenticate(authorization: str | None) -> PaymentIQIntegration:
    """The integration these credentials belong to, or AuthFailed(401)."""
    if not authorization:
        raise _unauthorized("Credentials are required.")
    if len(authorization) > MAX_HEADER_LENGTH:
        raise _unauthorized("Malformed credentials.")
    scheme, _, value = authorization.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise _unauthorized("Malformed Basic credentials.") from exc
        username, colon, password = decoded.partition(":")
        if not colon:
            raise _unauthorized("Malformed Basic credentials.")
        integration = integration_by_username(username)
        if integration is None:
            check_password(password, _dummy_hash())  # the same work as a wrong password
            raise _unauthorized("Wrong credentials.")
        if not _password_matches(integration, password) or integration.auth_scheme != "basic":
            raise _unauthorized("Wrong credentials.")
        return integration
    if scheme == "bearer":
        integration = integration_by_token_sha256(token_sha256(value)) if value else None
        if integration is None or integration.auth_scheme != "bearer":
            raise _unauthorized("Wrong credentials.")
        return integration
    raise _unauthorized("Use HTTP Basic or Bearer credentials.")


def ip_allowed(allowlist, remote_addr: str | None) -> bool:
    """Is `remote_addr` in the allowlist? An empty or unreadable list allows nobody."""
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for entry in allowlist if isinstance(allowlist, list) else ():
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False


def allowlist_normalise(entries) -> list[str]:
    """The allowlist as canonical networks ("203.0.113.7/32" -> "203.0.113.7"); ValueError
    naming the first entry that is not an IP address or CIDR network."""
    normalised = []
    for entry in entries:
        text = str(entry).strip()
        if not text:
            continue
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not an IP address or network.") from exc
        full = network.prefixlen == network.max_prefixlen
        value = str(network.network_address) if full else str(network)
        if value not in normalised:
            normalised.append(value)
    return normalised
