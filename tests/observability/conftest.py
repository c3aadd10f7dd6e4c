"""Fixtures of the observability tests: tracing on, into an in-memory exporter."""

import pytest
from django.db import connection
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.core.correlation import correlation_id_reset, correlation_id_set
from apps.observability import tracing

# Fixtures of other apps' tests these tests use: Hub88 (signed calls, a player with money and
# a game session), the fake registers, a payments reviewer.
from tests.exclusions.conftest import (  # noqa: F401
    _gamstop_server,
    _register_clients_and_fresh_breakers,
    _spelpaus_server,
    fake_gamstop,
    fake_spelpaus,
    gamstop_config,
    quick_retries,
    spelpaus_config,
)
from tests.games.conftest import game, hub88_brand, integration, keys, movement, player, token, wallet  # noqa: F401
from tests.payments.conftest import reviewer  # noqa: F401

# One per process: OpenTelemetry's tracer provider can be installed once, so its exporter
# stays; each test clears it, and the instrumentations are removed after each test.
_exporter = InMemorySpanExporter()
_installed: list[bool] = []


@pytest.fixture
def spans():
    """Tracing on for the test (Django, Celery, psycopg, Redis instrumented); the exporter
    holding every span finished since the test began."""
    tracing.tracing_setup(force=True, span_processors=[] if _installed else [SimpleSpanProcessor(_exporter)])
    _installed.append(True)
    # psycopg is instrumented at connect: a connection opened before has no spans (outside a
    # test's transaction it is simply opened again; in production none is open before setup).
    if not connection.in_atomic_block:
        connection.close()
    _exporter.clear()
    yield _exporter
    tracing.tracing_teardown()
    _exporter.clear()


@pytest.fixture(autouse=True)
def _outside_any_correlation_context():
    previous = correlation_id_set(None)
    yield
    correlation_id_reset(previous)


def trace_ids(finished) -> set[str]:
    return {format(span.context.trace_id, "032x") for span in finished}


def named(finished, prefix: str) -> list:
    return [span for span in finished if span.name.startswith(prefix)]
