"""What the register clients share: the answer type, one HTTP client per process, retries
with backoff (tenacity) and a circuit breaker per register and brand (pybreaker).

Every failure is a RegisterUnavailable (apps.exclusions.exceptions): callers fail closed.
"""

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pybreaker
import tenacity
from django.conf import settings

from apps.core.correlation import HEADER as CORRELATION_HEADER
from apps.core.correlation import correlation_id_ensure
from apps.exclusions.exceptions import RegisterUnavailable
from apps.observability import metrics, tracing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A register's answer to one question."""

    excluded: bool
    answer: str  # raw: "Y" / "N" / "P" (GAMSTOP), "true" / "false" (Spelpaus isBlocked)
    reference: str  # GAMSTOP X-Unique-Id, Spelpaus responseId
    latency_ms: int
    request: dict = field(default_factory=dict)  # the fields sent (never the API key)


class _Retryable(RegisterUnavailable):
    """429, 5xx or a network error: worth another attempt (after Retry-After, if given)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


# --- HTTP ------------------------------------------------------------------------------------
_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def _http() -> httpx.Client:
    """One pooled client per process (a forked Celery worker makes its own)."""
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        with _clients_lock:
            client = _clients.get(pid)
            if client is None:
                client = _clients[pid] = httpx.Client(follow_redirects=False)
    return client


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: use our own backoff


def _send(register: str, method: str, url: str, timeout: float, **kwargs) -> httpx.Response:
    try:
        response = _http().request(method, url, timeout=timeout, **kwargs)
    except httpx.TimeoutException as exc:
        raise _Retryable(f"{register}: no answer within {timeout:g}s ({type(exc).__name__}).") from exc
    except httpx.HTTPError as exc:
        raise _Retryable(f"{register}: cannot be reached ({type(exc).__name__}: {exc}).") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise _Retryable(
            f"{register}: answered HTTP {response.status_code}.", retry_after=_retry_after(response)
        )
    if response.status_code != 200:
        raise RegisterUnavailable(
            f"{register}: refused the request, HTTP {response.status_code}: {_excerpt(response)}"
        )
    return response


def _excerpt(response: httpx.Response) -> str:
    return response.text[:200].replace("\n", " ")


def _wait(retry_state: tenacity.RetryCallState) -> float:
    """The register's Retry-After when it sent one, else exponential backoff."""
    error = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(error, _Retryable) and error.retry_after is not None:
        return min(error.retry_after, settings.EXCLUSIONS_RETRY_MAX_SECONDS)
    backoff = tenacity.wait_exponential(multiplier=settings.EXCLUSIONS_BACKOFF_SECONDS)
    return backoff(retry_state)


def _with_retries(register: str, send: Callable[[], httpx.Response]) -> httpx.Response:
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, settings.EXCLUSIONS_RETRIES))
        | tenacity.stop_before_delay(settings.EXCLUSIONS_RETRY_MAX_SECONDS),
        wait=_wait,
        retry=tenacity.retry_if_exception_type(_Retryable),
        before_sleep=lambda state: logger.warning(
            "%s: attempt %s failed (%s); retrying in %.2fs",
            register,
            state.attempt_number,
            state.outcome.exception(),
            state.upcoming_sleep,
        ),
        reraise=True,
    )
    return retrying(send)


# --- circuit breaker ---------------------------------------------------------------------------
class _OpenedAt(pybreaker.CircuitBreakerListener):
    """Remembers when a breaker opened, so a call can fail fast before it is made."""

    def __init__(self):
        self.at = 0.0

    def state_change(self, cb, old_state, new_state) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self.at = time.monotonic()


_breakers: dict[tuple[str, int], tuple[pybreaker.CircuitBreaker, _OpenedAt]] = {}
_breakers_lock = threading.Lock()


def breaker_for(register: str, brand_id: int) -> pybreaker.CircuitBreaker:
    return _breaker(register, brand_id)[0]


def _breaker(register: str, brand_id: int) -> tuple[pybreaker.CircuitBreaker, _OpenedAt]:
    key = (register, brand_id)
    with _breakers_lock:
        entry = _breakers.get(key)
        if entry is None:
            opened = _OpenedAt()
            breaker = pybreaker.CircuitBreaker(
                fail_max=settings.EXCLUSIONS_BREAKER_FAILURES,
                reset_timeout=settings.EXCLUSIONS_BREAKER_RESET_SECONDS,
                listeners=[opened],
                name=f"{register}:{brand_id}",
            )
            entry = _breakers[key] = (breaker, opened)
        return entry


def breakers_reset() -> None:
    """Forget every breaker's state (tests; a new configuration)."""
    with _breakers_lock:
        _breakers.clear()


def _replay(error: Exception | None) -> None:
    if error is not None:
        raise error


def guarded_call(config, parse: Callable[[], object]):
    """Run `parse` (which sends, with retries, and reads the answer) under the breaker of
    (config.register, config.brand_id).

    pybreaker holds its lock for the whole of `breaker.call`; an HTTP call made inside it
    would serialise every check of a brand in this process. So the call runs outside, and
    its outcome is replayed through the breaker (which counts it and opens or closes).
    An open breaker fails fast, without calling the register, until its reset timeout.
    """
    breaker, opened = _breaker(config.register, config.brand_id)
    if breaker.current_state == pybreaker.STATE_OPEN and time.monotonic() - opened.at < breaker.reset_timeout:
        metrics.REGISTER_CHECKS.labels(config.register, "circuit_open").inc()
        raise RegisterUnavailable(
            f"{config.register}: circuit open after {breaker.fail_max} failures in a row; "
            f"not asked again for up to {breaker.reset_timeout:g}s.",
            code="register_circuit_open",
        )
    error: RegisterUnavailable | None = None
    result = None
    started = time.monotonic()
    try:
        with tracing.span(f"exclusions.{config.register}", **{"pam.register": config.register}):
            result = parse()
    except RegisterUnavailable as exc:
        error = exc
    metrics.REGISTER_LATENCY.labels(config.register).observe(time.monotonic() - started)
    metrics.REGISTER_CHECKS.labels(config.register, "error" if error else "ok").inc()
    try:
        breaker.call(_replay, error)
    except pybreaker.CircuitBreakerError:
        logger.error("%s: circuit opened for brand %s (%s)", config.register, config.brand_id, error)
    except RegisterUnavailable:
        pass  # counted; raised below
    if error is not None:
        raise error
    return result


def post(config, url: str, *, headers: dict, **kwargs) -> tuple[httpx.Response, int]:
    """POST with retries; the 200 response and the latency in ms (all attempts).

    Every call carries our correlation id (X-Correlation-ID; GAMSTOP also gets it as its
    own X-Trace-Id, set by its client), so a register's logs can be matched with ours."""
    headers = {CORRELATION_HEADER: correlation_id_ensure(), **headers}
    started = time.monotonic()
    response = _with_retries(
        config.register,
        lambda: _send(config.register, "POST", url, config.timeout_seconds, headers=headers, **kwargs),
    )
    return response, int((time.monotonic() - started) * 1000)


def json_of(register: str, response: httpx.Response):
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError) as exc:
        raise RegisterUnavailable(f"{register}: the answer is not JSON: {_excerpt(response)}") from exc


def breakers_reset_for(register: str, brand_id: int) -> None:
    """Forget one breaker (its brand's configuration changed)."""
    with _breakers_lock:
        _breakers.pop((register, brand_id), None)
