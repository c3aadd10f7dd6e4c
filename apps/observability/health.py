"""Readiness: can this process do its work now? The database, Redis and the Celery broker.

Liveness (/healthz, apps.core) says only that the process answers: a load balancer or
Kubernetes restarts a process that fails it, and a database outage must not restart every
web server. Readiness (/readyz) takes the process out of rotation while a dependency it
needs is down, and back in once it answers again.

Each check is bounded by READINESS_TIMEOUT_SECONDS and reports "ok", "skipped" (not
configured: no Redis, eager Celery) or "error" with a short reason.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import connections

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pam-readiness")


def _database(alias: str) -> str:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        # A broken connection must not be reused by the next probe or request.
        connection.close_if_unusable_or_obsolete()
        raise
    return "ok"


def _database_in_thread(alias: str) -> str:
    """Run in a worker thread (its own connection); closed afterwards, as no request does it."""
    try:
        return _database(alias)
    finally:
        connections[alias].close()


def _redis() -> str:
    if not settings.REDIS_URL:
        return "skipped"
    import redis

    timeout = settings.READINESS_TIMEOUT_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def _broker() -> str:
    from pam.celery import app as celery_app

    if celery_app.conf.task_always_eager:
        return "skipped"
    timeout = settings.READINESS_TIMEOUT_SECONDS
    with celery_app.connection_for_write(connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)
    return "ok"


def readiness_checks() -> dict[str, dict]:
    """{check: {"status": "ok" | "skipped" | "error", "ms": ..., "error": "..."}} for every
    dependency, checked in parallel, each within the timeout."""
    timeout = settings.READINESS_TIMEOUT_SECONDS
    checks = {f"database:{alias}" if alias != "default" else "database": alias for alias in connections}
    futures = {name: _pool.submit(_timed, _database_in_thread, alias) for name, alias in checks.items()}
    futures["redis"] = _pool.submit(_timed, _redis)
    futures["broker"] = _pool.submit(_timed, _broker)
    results = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=timeout + 0.5)
        except FutureTimeout:
            results[name] = {"status": "error", "error": f"no answer within {timeout:g}s"}
    return results


def _timed(check, *args) -> dict:
    started = time.monotonic()
    try:
        status = check(*args)
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is "not ready"
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {str(exc).strip()[:200]}",
            "ms": round((time.monotonic() - started) * 1000, 1),
        }
    return {"status": status, "ms": round((time.monotonic() - started) * 1000, 1)}
