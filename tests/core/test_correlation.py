"""Correlation ids: from the request header (when well formed) to the response, events, tasks and logs."""

import logging
import re

import pytest
from django.db import transaction

from apps.core.actors import system_actor
from apps.core.correlation import (
    CorrelationIdLogFilter,
    correlation_id_clean,
    correlation_id_get,
    correlation_id_reset,
    correlation_id_set,
)
from apps.core.events import publish, subscribe
from apps.core.models import Event
from tests.core.handler_runs import run_record, runs_of
from tests.core.urls import REQUEST_EVENT_TYPE, ButtonPressed

FRESH_ID = re.compile(r"^[0-9a-f]{32}$")

pytestmark = pytest.mark.urls("tests.core.urls")


@subscribe(REQUEST_EVENT_TYPE)
def button_handler(event: Event) -> None:
    run_record(event, "button")


@pytest.mark.django_db
def test_request_id_is_echoed_and_carried_by_the_events_published_during_the_request(client):
    # when
    response = client.get("/test-core/press", headers={"X-Correlation-ID": "abc-123"})

    # then
    assert response.status_code == 200
    assert response["X-Correlation-ID"] == "abc-123"
    assert response.json()["correlation_id"] == "abc-123"
    event = Event.objects.get(pk=response.json()["event_id"])
    assert event.correlation_id == "abc-123"
    # and the request's id does not outlive the request
    assert correlation_id_get() is None


@pytest.mark.django_db(transaction=True)
def test_handlers_run_after_the_requests_commit_carry_its_id_through_the_eager_task(client):
    # when: the view's transaction commits; the dispatch task runs eagerly in the request
    response = client.get("/test-core/press", headers={"X-Correlation-ID": "abc-123"})

    # then: the handler ran under the request's id (its audit row's cid)
    event = Event.objects.get(pk=response.json()["event_id"])
    run = runs_of("button", event).get()
    assert run.cid == "abc-123"
    assert run.additional_data["correlation_id"] == "abc-123"
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert correlation_id_get() is None


@pytest.mark.parametrize(
    "header",
    [
        "a" * 200,
        "a" * 65,
        "abc 123",
        "abc\n123",
        "abc-123\n",
        "abc\r\nSet-Cookie: x=1",
        "abc/123",
        "<script>",
        "",
    ],
    ids=[
        "200-chars",
        "65-chars",
        "space",
        "newline",
        "trailing-newline",
        "header-injection",
        "slash",
        "markup",
        "empty",
    ],
)
@pytest.mark.django_db
def test_malformed_header_is_replaced_by_a_fresh_id(client, header):
    # when
    response = client.get("/test-core/press", headers={"X-Correlation-ID": header})

    # then
    cid = response["X-Correlation-ID"]
    assert cid != header
    assert FRESH_ID.match(cid)
    assert Event.objects.get(pk=response.json()["event_id"]).correlation_id == cid


@pytest.mark.parametrize("header", ["a" * 64, "req.1:part_2-b", "X"])
@pytest.mark.django_db
def test_well_formed_header_is_kept(client, header):
    response = client.get("/test-core/press", headers={"X-Correlation-ID": header})

    assert response["X-Correlation-ID"] == header
    assert Event.objects.get(pk=response.json()["event_id"]).correlation_id == header


@pytest.mark.django_db
def test_requests_without_the_header_get_distinct_fresh_ids(client):
    first = client.get("/test-core/press")
    second = client.get("/test-core/press")

    assert FRESH_ID.match(first["X-Correlation-ID"])
    assert FRESH_ID.match(second["X-Correlation-ID"])
    assert first["X-Correlation-ID"] != second["X-Correlation-ID"]
    assert [e.correlation_id for e in Event.objects.order_by("pk")] == [
        first["X-Correlation-ID"],
        second["X-Correlation-ID"],
    ]


@pytest.mark.django_db
def test_eager_task_runs_under_the_publishers_id_and_leaves_it_in_place(django_capture_on_commit_callbacks):
    # given: a job with its own id
    token = correlation_id_set("job-7")
    try:
        # when: it publishes and commits; the dispatch task runs eagerly
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            event = publish(ButtonPressed(button="blue"), actor=system_actor("job"))

        # then: the handler saw the job's id, and the job still has it afterwards
        assert runs_of("button", event).get().cid == "job-7"
        assert correlation_id_get() == "job-7"
    finally:
        correlation_id_reset(token)
    assert event.correlation_id == "job-7"


def test_correlation_id_clean_keeps_safe_ids_and_replaces_the_rest():
    assert correlation_id_clean("abc-123") == "abc-123"
    assert FRESH_ID.match(correlation_id_clean(None))
    assert FRESH_ID.match(correlation_id_clean("bad id"))
    assert FRESH_ID.match(correlation_id_clean("abc-123\n"))


def test_log_records_carry_the_current_id():
    record = logging.LogRecord("pam", logging.INFO, __file__, 1, "hello", None, None)

    assert CorrelationIdLogFilter().filter(record) is True
    assert record.correlation_id == "-"

    token = correlation_id_set("log-1")
    try:
        CorrelationIdLogFilter().filter(record)
    finally:
        correlation_id_reset(token)
    assert record.correlation_id == "log-1"
