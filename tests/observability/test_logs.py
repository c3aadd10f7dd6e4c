"""Structured logs: the configured console handler writes JSON lines with the correlation id."""

import io
import json
import logging

import pytest

from apps.observability.logs import JsonFormatter

pytestmark = pytest.mark.urls("tests.observability.urls")


@pytest.fixture
def console_lines():
    """What the project's configured console handler writes, one parsed JSON object a line."""
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.setStream(previous)


@pytest.mark.django_db
def test_a_line_logged_during_a_request_is_json_with_the_requests_correlation_id(client, console_lines):
    # when
    response = client.get("/test-observability/log", headers={"X-Request-ID": "req-77"})

    # then
    assert response["X-Correlation-ID"] == "req-77"
    assert response["X-Request-ID"] == "req-77"
    (line,) = [line for line in console_lines() if line["logger"] == "tests.observability"]
    assert line["message"] == "something worth a line"
    assert line["level"] == "WARNING"
    assert line["correlation_id"] == "req-77"
    assert line["player_id"] == 42
    assert line["timestamp"].endswith("+00:00")
    assert "trace_id" not in line  # tracing is off here


@pytest.mark.django_db
def test_djangos_own_line_about_a_404_carries_the_requests_id(client, console_lines):
    client.get("/api/v1/no-such-thing/", headers={"X-Correlation-ID": "nf-9"})

    (line,) = [line for line in console_lines() if line["logger"] == "django.request"]
    assert line["correlation_id"] == "nf-9"
    assert line["status_code"] == 404
    assert "request" not in line


@pytest.mark.django_db(transaction=True)
def test_with_tracing_on_a_line_carries_the_trace_and_span(spans, client, console_lines):
    response = client.get(
        "/test-observability/log",
        headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    )

    assert response.status_code == 200
    (line,) = [line for line in console_lines() if line["logger"] == "tests.observability"]
    assert line["correlation_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    (server,) = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert line["span_id"] == f"{server.context.span_id:016x}"


def test_an_exception_is_logged_with_its_traceback_in_one_line(console_lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tests.observability").exception("it failed")

    (line,) = console_lines()
    assert line["message"] == "it failed"
    assert "ValueError: boom" in line["exception"]
    assert line["correlation_id"] == "-"
