"""A lean way to run the few fixed statements that every bet and win runs.

Django's cursor path costs about 50 us of Python per statement on top of psycopg's (a new
psycopg cursor with its own copy of the adapters, the wrapper, the health and broken-
transaction checks): as much as the statements themselves for the wallet's five per
operation. These helpers keep one psycopg cursor per database connection and execute on
it directly, under Django's error translation, with the connection's own binding and
prepared-statement settings (pam/settings.py: DATABASE_SERVER_SIDE_BINDING).

Only for use inside `transaction.atomic()` (the connection is open and in a transaction)
and only for hand-written SQL; everything else goes through the ORM. Statements sent
this way do not appear in Django's query log or execute wrappers. On SQLite (the embedded
default) they simply go through Django's cursor.
"""

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
    db = connections[DEFAULT_DB_ALIAS]  # once: each attribute of the proxy is a lookup
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    cursor = _cursor(db)
    with db.wrap_database_errors:
        cursor.execute(sql, params)
        return cursor.fetchone()


def execute(sql: str, params) -> None:
    """Run one statement that returns no rows in the current transaction."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with db.wrap_database_errors:
        _cursor(db).execute(sql, params)
