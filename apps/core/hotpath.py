"""A lean way to run the few fixed statements that every bet and win runs.

Django's cursor path costs about 50 us of Python per statement on top of psycopg's (a new
psycopg cursor with its own copy of the adapters, the wrapper, the health and broken-
transaction checks): as much as the statements themselves for the wallet's five per
operation. These helpers keep one psycopg cursor per database connection and execute on
it directly, under Django's error translation, with the connection's own binding and
prepared-statement settings (pam/settings.py: DATABASE_SERVER_SIDE_BINDING). They go to
Django's query log whenever Django would log its own (DEBUG, CaptureQueriesContext), but
not through execute wrappers.

Only for use inside `transaction.atomic()` (the connection is open and in a transaction)
and only for hand-written SQL; everything else goes through the ORM. On SQLite (the
embedded default) they simply go through Django's cursor.
"""

import time
import weakref

from django.db import DEFAULT_DB_ALIAS, connections

_cursors: "weakref.WeakKeyDictionary[object, object]" = weakref.WeakKeyDictionary()


def _cursor(db):
    if not db.in_atomic_block:
        raise RuntimeError("hotpath statements run inside transaction.atomic()")
    raw = db.connection
    cursor = _cursors.get(raw)
    if cursor is None:
        cursor = _cursors[raw] = raw.cursor()  # Django's cursor_factory: its binding mode
    return cursor


def fetchone(sql: str, params) -> tuple | None:
    """Run one statement that returns rows (SELECT, or RETURNING) in the current
    transaction; its first row, or None."""
    return _run(sql, params, _first_row)


def fetchall(sql: str, params) -> list[tuple]:
    """Run one statement that returns rows in the current transaction; all its rows."""
    return _run(sql, params, _all_rows)


def execute(sql: str, params) -> None:
    """Run one statement that returns no rows in the current transaction."""
    _run(sql, params, _no_rows)


def _first_row(cursor):
    return cursor.fetchone()


def _all_rows(cursor):
    return cursor.fetchall()


def _no_rows(cursor) -> None:
    return None


def _run(sql: str, params, rows):
    db = connections[DEFAULT_DB_ALIAS]  # once: each attribute of the proxy is a lookup
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return rows(cursor)
    cursor = _cursor(db)
    started = time.monotonic() if db.queries_logged else None
    with db.wrap_database_errors:
        cursor.execute(sql, params)
        result = rows(cursor)
    if started is not None:
        _log(db, sql, params, started)
    return result


def _log(db, sql: str, params, started: float) -> None:
    """Into Django's query log, as its debug cursor would (DEBUG, or a test counting queries)."""
    elapsed = time.monotonic() - started
    db.queries_log.append({"sql": f"{sql} -- params: {params!r}", "time": f"{elapsed:.3f}"})
