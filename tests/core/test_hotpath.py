"""core.hotpath: the wallet's fixed statements on one reused cursor, inside a transaction."""

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from apps.core import hotpath

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

INSERT_CURRENCY = "INSERT INTO core_currency (code, name, exponent) VALUES (%s, %s, %s)"


def test_statements_run_in_the_callers_transaction_and_roll_back_with_it():
    with transaction.atomic():
        hotpath.execute(
            "INSERT INTO core_currency (code, name, exponent) VALUES (%s, %s, %s)", ["XTS", "Test", 2]
        )
        assert hotpath.fetchone("SELECT exponent FROM core_currency WHERE code = %s", ["XTS"]) == (2,)
        transaction.set_rollback(True)
    with transaction.atomic():
        assert hotpath.fetchone("SELECT exponent FROM core_currency WHERE code = %s", ["XTS"]) is None


def test_one_cursor_serves_every_statement_of_a_connection():
    with transaction.atomic():
        hotpath.fetchone("SELECT 1", [])
        first = hotpath._cursors[connection.connection]
        hotpath.fetchone("SELECT 2", [])
        assert hotpath._cursors[connection.connection] is first


def test_database_errors_arrive_as_djangos_and_leave_the_cursor_usable():
    with pytest.raises(DataError), transaction.atomic():
        hotpath.fetchone("SELECT %s::smallint", [100_000])
    with pytest.raises(IntegrityError), transaction.atomic():
        hotpath.execute(
            "INSERT INTO core_currency (code, name, exponent) VALUES (%s, %s, %s)", ["GBP", "Again", 2]
        )
    with transaction.atomic():
        assert hotpath.fetchone("SELECT 3", []) == (3,)


@pytest.mark.django_db(transaction=True)  # no test-wide transaction around this one
def test_outside_a_transaction_it_refuses():
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        hotpath.fetchone("SELECT 1", [])


def test_statements_are_in_djangos_query_log_when_it_keeps_one():
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        hotpath.fetchone("SELECT %s::int", [41])
        hotpath.execute("SELECT %s::int", [42])

    assert [q["sql"] for q in queries] == ["SELECT %s::int -- params: [41]", "SELECT %s::int -- params: [42]"]
